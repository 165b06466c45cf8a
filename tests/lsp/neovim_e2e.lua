-- Neovim (0.7+) as a real editor for cq-lsp: attach the server to a buffer, save an edit, and use
-- the server's status, commands, workspace symbols and hover. Results go to $E2E_OUT as JSON
-- lines; the exit code says whether the script got through (tests/test_neovim.py asserts).
-- Run: nvim --headless -u NONE -i NONE -n -c 'luafile tests/neovim_e2e.lua'
local out_path = os.getenv("E2E_OUT")
local root = os.getenv("E2E_ROOT")
local target = os.getenv("E2E_FILE")
local lines = {}

local function rec(kind, value)
  table.insert(lines, vim.fn.json_encode({ kind = kind, value = value }))
  vim.fn.writefile(lines, out_path)
end

local function finish(code)
  rec("finish", code)
  vim.cmd(code == 0 and "qa!" or "cq")
end

local statuses = {}
local id = vim.lsp.start_client({
  name = "cq-lsp",
  cmd = { os.getenv("E2E_PY"), "-m", "cq_lsp", "--stdio" },
  root_dir = root,
  workspace_folders = { { uri = vim.uri_from_fname(root), name = "repo" } },
  init_options = { trusted = true, config = { processing = { debounce_ms = 50 } } },
  handlers = {
    ["cq/status"] = function(_, result)
      table.insert(statuses, result)
    end,
  },
})
if not id then
  rec("error", "start_client failed")
  return finish(1)
end

vim.cmd("edit " .. target)
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, id)
local client = vim.lsp.get_client_by_id(id)
if not vim.wait(20000, function() return client.initialized end, 50) then
  rec("error", "not initialized")
  return finish(1)
end

local function latest()
  return statuses[#statuses]
end

local function settled(files)
  local st = latest()
  return st ~= nil and st.queue ~= nil and st.queue.queued == 0 and st.queue.running == 0
    and st.index.files == files
end

if not vim.wait(60000, function() return settled(tonumber(os.getenv("E2E_FILES_BEFORE"))) end, 100) then
  rec("error", { what = "catch-up did not finish", status = latest() })
  return finish(1)
end
local before = latest()
rec("status_before", before)

-- The user edits the file and saves it: didChange + didSave.
vim.api.nvim_buf_set_lines(buf, -1, -1, false, {
  "",
  "def reconcile_ledger_entries(entries):",
  '    """Match bank lines with invoices."""',
  "    return entries",
})
vim.cmd("write")
local want = "reconcile_ledger_entries"
local function documented()
  local r = client.request_sync("workspace/executeCommand",
    { command = "cq.show", arguments = { { path = target } } }, 5000, buf)
  return r and r.result and r.result.functions and r.result.functions[want] ~= nil
end
if not vim.wait(60000, documented, 200) then
  rec("error", { what = "saved function never documented", status = latest() })
  return finish(1)
end
-- The status bar's view: a cq/status sent after the save, counting one more documented file.
local function reported()
  local st = latest()
  return st.documenter.calls > before.documenter.calls and st.queue.queued == 0
    and st.queue.running == 0
end
if not vim.wait(30000, reported, 50) then
  rec("error", { what = "no cq/status after the save", status = latest() })
  return finish(1)
end
rec("status_after", latest())

local r = client.request_sync("workspace/executeCommand",
  { command = "cq.search", arguments = { "reconcile ledger" } }, 10000, buf)
rec("search", r and r.result)

r = client.request_sync("workspace/symbol", { query = "ParcelRate" }, 10000, buf)
rec("symbols", r and r.result)

r = client.request_sync("workspace/executeCommand",
  { command = "cq.search", arguments = { { query = 5 } } }, 10000, buf)
rec("bad_args", r and r.err)

-- Hover on a call to a function defined in another file.
vim.cmd("edit " .. root .. "/app.py")
local buf2 = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf2, id)
r = client.request_sync("textDocument/hover", {
  textDocument = { uri = vim.uri_from_bufnr(buf2) },
  position = { line = 2, character = 3 },
}, 10000, buf2)
rec("hover", r and r.result)

client.stop()
vim.wait(10000, function() return client.is_stopped() end, 50)
rec("stopped", client.is_stopped())
finish(0)
