; OCaml imports for cq-lsp, after the wheel's tags.scm.
(open_module module: (module_path) @import)
