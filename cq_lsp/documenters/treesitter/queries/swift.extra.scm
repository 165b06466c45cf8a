; Swift imports for cq-lsp, after the wheel's tags.scm.
(import_declaration (identifier) @import)
(class_declaration declaration_kind: "struct" name: (type_identifier) @name) @definition.struct
(class_declaration declaration_kind: "enum" name: (type_identifier) @name) @definition.enum
