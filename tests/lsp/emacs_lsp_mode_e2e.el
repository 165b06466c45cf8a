;;; emacs_lsp_mode_e2e.el --- Emacs + lsp-mode as a real editor for cq-lsp  -*- lexical-binding: t; -*-

;; The same scenario as emacs_eglot_e2e.el with lsp-mode (Debian's elpa-lsp-mode): the server
;; starts from a registered client, cq/status arrives, a saved edit reaches the index,
;; xref-find-apropos answers from workspace/symbol and the cq.search command runs.
;; Run: emacs --batch -q -l tests/emacs_lsp_mode_e2e.el

(require 'cl-lib)
(require 'json)
(require 'lsp-mode)
(require 'xref)

(defvar e2e-out (getenv "E2E_OUT"))
(defvar e2e-root (file-name-as-directory (getenv "E2E_ROOT")))
(defvar e2e-statuses nil "Every cq/status params (hash tables), newest first.")

(defun e2e-rec (kind value)
  (with-temp-buffer
    (insert (json-encode (list :kind kind :value value)) "\n")
    (append-to-file (point-min) (point-max) e2e-out)))

(defun e2e-finish (code)
  (e2e-rec "finish" code)
  (kill-emacs code))

(defun e2e-wait (pred secs)
  (let ((end (+ (float-time) secs)))
    (while (and (not (funcall pred)) (< (float-time) end))
      (accept-process-output nil 0.05))
    (funcall pred)))

(defun e2e-get (table &rest keys)
  (dolist (k keys table) (setq table (and (hash-table-p table) (gethash k table)))))

;; What a user's init.el says (README): a client for cq-lsp next to the language's own server.
(setq lsp-client-packages nil          ; only our client: no other server is installed here
      lsp-auto-guess-root t            ; the git work tree, without asking
      lsp-session-file (expand-file-name "lsp-session" (getenv "HOME"))
      lsp-enable-file-watchers nil
      lsp-restart 'ignore
      lsp-keep-workspace-alive nil
      lsp-enable-snippet nil
      lsp-headerline-breadcrumb-enable nil
      lsp-modeline-code-actions-enable nil
      lsp-modeline-diagnostics-enable nil
      lsp-lens-enable nil
      lsp-diagnostics-provider :none
      lsp-completion-provider :none
      make-backup-files nil)

(lsp-register-client
 (make-lsp-client
  :new-connection (lsp-stdio-connection (list (getenv "E2E_PY") "-m" "cq_lsp" "--stdio"))
  :activation-fn (lsp-activate-on "python")
  :server-id 'cq-lsp
  :priority 10
  :add-on? t
  :initialization-options (lambda () '(:trusted t :config (:processing (:debounce_ms 50))))
  :notification-handlers
  (let ((handlers (make-hash-table :test 'equal)))
    (puthash "cq/status" (lambda (_workspace params) (push params e2e-statuses)) handlers)
    handlers)))

(defun e2e-settled (files)
  (let ((st (car e2e-statuses)))
    (and st
         (eql (e2e-get st "queue" "queued") 0)
         (eql (e2e-get st "queue" "running") 0)
         (eql (e2e-get st "index" "files") files))))

(defun e2e-command (command &rest arguments)
  (lsp-request "workspace/executeCommand"
               (list :command command :arguments (apply #'vector arguments))))

(condition-case err
    (progn
      (find-file (expand-file-name "billing/invoice.py" e2e-root))
      (lsp)
      (unless (e2e-wait (lambda ()
                          (let ((ws (car (lsp-workspaces))))
                            (and ws (eq (lsp--workspace-status ws) 'initialized))))
                        30)
        (e2e-rec "error" "lsp-mode did not connect")
        (e2e-finish 1))
      (let ((workspace (car (lsp-workspaces)))
            (files (string-to-number (getenv "E2E_FILES_BEFORE"))))
        (e2e-rec "server" (symbol-name (lsp--client-server-id (lsp--workspace-client workspace))))
        (unless (e2e-wait (lambda () (e2e-settled files)) 60)
          (e2e-rec "error" (list :what "catch-up did not finish" :status (car e2e-statuses)))
          (e2e-finish 1))
        (let ((before (car e2e-statuses)))
          (e2e-rec "status_before" before)
          (goto-char (point-max))
          (insert "\n\ndef reconcile_ledger_entries(entries):\n"
                  "    \"\"\"Match bank lines with invoices.\"\"\"\n"
                  "    return entries\n")
          (save-buffer)
          (unless (e2e-wait
                   (lambda ()
                     (let ((rec (e2e-command "cq.show" (list :path (buffer-file-name)))))
                       (e2e-get rec "functions" "reconcile_ledger_entries")))
                   60)
            (e2e-rec "error" (list :what "the saved function was never documented"
                                   :status (car e2e-statuses)))
            (e2e-finish 1))
          (unless (e2e-wait
                   (lambda ()
                     (let ((st (car e2e-statuses)))
                       (and (> (e2e-get st "documenter" "calls")
                               (e2e-get before "documenter" "calls"))
                            (eql (e2e-get st "queue" "queued") 0)
                            (eql (e2e-get st "queue" "running") 0))))
                   30)
            (e2e-rec "error" (list :what "no cq/status after the save" :status (car e2e-statuses)))
            (e2e-finish 1))
          (e2e-rec "status_after" (car e2e-statuses)))
        (let* ((backend (xref-find-backend))
               (items (xref-backend-apropos backend "ParcelRate")))
          (e2e-rec "backend" (symbol-name backend))
          (e2e-rec "apropos"
                   (vconcat
                    (mapcar (lambda (item)
                              (let ((loc (xref-item-location item)))
                                (list :summary (substring-no-properties (xref-item-summary item))
                                      :file (xref-location-group loc)
                                      :line (xref-location-line loc))))
                            items))))
        (e2e-rec "search" (e2e-command "cq.search" "reconcile ledger"))
        ;; lsp-request keeps only the message of an error: ask asynchronously for the code too.
        (let (answer)
          (lsp-request-async "workspace/executeCommand"
                             (list :command "cq.search" :arguments (vector (list :query 5)))
                             (lambda (_result) (setq answer (list :code 0 :message "no error")))
                             :error-handler
                             (lambda (err) (setq answer (list :code (lsp:json-error-code err)
                                                              :message (lsp:json-error-message err)))))
          (e2e-wait (lambda () answer) 10)
          (e2e-rec "bad_args" answer))
        (let ((proc (lsp--workspace-proc workspace)))
          (lsp-workspace-shutdown workspace)
          (e2e-rec "stopped" (e2e-wait (lambda () (not (process-live-p proc))) 20)))
        (e2e-finish 0)))
  (error
   (e2e-rec "error" (format "%S" err))
   (e2e-finish 1)))

;;; emacs_lsp_mode_e2e.el ends here
