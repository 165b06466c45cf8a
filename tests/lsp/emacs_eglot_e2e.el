;;; emacs_eglot_e2e.el --- Emacs + eglot as a real editor for cq-lsp  -*- lexical-binding: t; -*-

;; The server starts from eglot-server-programs, cq/status arrives, a saved edit reaches the
;; index, xref-find-apropos answers from the index (workspace/symbol) and the cq.search command
;; runs.  Results go to $E2E_OUT as JSON lines; tests/test_emacs.py asserts on them.
;; Run: emacs --batch -q -l tests/emacs_eglot_e2e.el   (-q, not -Q: site-start loads Debian's
;; elpa-eglot).

(require 'cl-lib)
(require 'json)
(require 'eglot)
(require 'xref)

(defvar e2e-out (getenv "E2E_OUT"))
(defvar e2e-root (file-name-as-directory (getenv "E2E_ROOT")))
(defvar e2e-statuses nil "Every cq/status params plist, newest first.")

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

(defun e2e-get (plist &rest keys)
  (dolist (k keys plist) (setq plist (plist-get plist k))))

(cl-defmethod eglot-handle-notification (_server (_method (eql cq/status)) &rest params)
  (push params e2e-statuses))

;; What a user's init.el says (README): start cq-lsp for Python buffers, trust the workspace.
(add-to-list 'eglot-server-programs
             `(python-mode . (,(getenv "E2E_PY") "-m" "cq_lsp" "--stdio")))
(cl-defmethod eglot-initialization-options ((_server eglot-lsp-server))
  '(:trusted t :config (:processing (:debounce_ms 50))))
(setq eglot-sync-connect 10
      eglot-autoshutdown t
      make-backup-files nil)

(defun e2e-settled (files)
  (let ((st (car e2e-statuses)))
    (and st
         (eql (e2e-get st :queue :queued) 0)
         (eql (e2e-get st :queue :running) 0)
         (eql (e2e-get st :index :files) files))))

(condition-case err
    (progn
      (find-file (expand-file-name "billing/invoice.py" e2e-root))
      ;; M-x eglot; eglot-ensure would wait for a command loop that --batch never runs.
      (apply #'eglot (eglot--guess-contact))
      (unless (e2e-wait (lambda () (eglot-current-server)) 30)
        (e2e-rec "error" "eglot did not connect")
        (e2e-finish 1))
      (let ((server (eglot-current-server))
            (files (string-to-number (getenv "E2E_FILES_BEFORE"))))
        (e2e-rec "server" (plist-get (eglot--server-info server) :name))
        (unless (e2e-wait (lambda () (e2e-settled files)) 60)
          (e2e-rec "error" (list :what "catch-up did not finish" :status (car e2e-statuses)))
          (e2e-finish 1))
        (let ((before (car e2e-statuses)))
          (e2e-rec "status_before" before)
          ;; The user edits the file and saves it: didChange + didSave.
          (goto-char (point-max))
          (insert "\n\ndef reconcile_ledger_entries(entries):\n"
                  "    \"\"\"Match bank lines with invoices.\"\"\"\n"
                  "    return entries\n")
          (save-buffer)
          (unless (e2e-wait
                   (lambda ()
                     (let ((rec (jsonrpc-request
                                 server :workspace/executeCommand
                                 `(:command "cq.show"
                                   :arguments [(:path ,(buffer-file-name))]))))
                       (plist-get (plist-get rec :functions) :reconcile_ledger_entries)))
                   60)
            (e2e-rec "error" (list :what "the saved function was never documented"
                                   :status (car e2e-statuses)))
            (e2e-finish 1))
          (unless (e2e-wait
                   (lambda ()
                     (let ((st (car e2e-statuses)))
                       (and (> (e2e-get st :documenter :calls)
                               (e2e-get before :documenter :calls))
                            (eql (e2e-get st :queue :queued) 0)
                            (eql (e2e-get st :queue :running) 0))))
                   30)
            (e2e-rec "error" (list :what "no cq/status after the save" :status (car e2e-statuses)))
            (e2e-finish 1))
          (e2e-rec "status_after" (car e2e-statuses)))
        ;; xref-find-apropos: eglot's xref backend asks workspace/symbol.
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
        ;; The interactive command too, as a user runs it (M-x xref-find-apropos).
        (xref-find-apropos "parse_invoice")
        (e2e-rec "apropos_buffer"
                 (let ((buf (get-buffer "*xref*")))
                   (and buf (with-current-buffer buf
                              (buffer-substring-no-properties (point-min) (point-max))))))
        ;; A cq.* command through workspace/executeCommand.
        (e2e-rec "search" (jsonrpc-request server :workspace/executeCommand
                                           '(:command "cq.search"
                                             :arguments ["reconcile ledger"])))
        (e2e-rec "bad_args"
                 (condition-case e
                     (progn (jsonrpc-request server :workspace/executeCommand
                                             '(:command "cq.search" :arguments [(:query 5)]))
                            nil)
                   (jsonrpc-error (list :code (alist-get 'jsonrpc-error-code (cdr e))
                                        :message (alist-get 'jsonrpc-error-message (cdr e))))))
        (eglot-shutdown server)
        (e2e-rec "stopped" (not (jsonrpc-running-p server)))
        (e2e-finish 0)))
  (error
   (e2e-rec "error" (format "%S" err))
   (e2e-finish 1)))

;;; emacs_eglot_e2e.el ends here
