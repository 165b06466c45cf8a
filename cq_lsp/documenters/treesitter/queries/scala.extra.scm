; Scala imports for cq-lsp, after the wheel's tags.scm.
(import_declaration path: (_) @import)
