; Scala imports for cq-lsp, after the wheel's tags.scm (the path is several nodes: take the statement).
(import_declaration) @import
