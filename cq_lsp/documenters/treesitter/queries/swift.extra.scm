; Swift imports for cq-lsp, after the wheel's tags.scm.
(import_declaration (identifier) @import)
