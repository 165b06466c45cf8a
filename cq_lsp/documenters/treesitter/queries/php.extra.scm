; PHP imports and constants for cq-lsp, after the wheel's tags.scm.
(namespace_use_clause [(qualified_name) (name)] @import)
(const_declaration (const_element (name) @name)) @definition.constant
(enum_declaration name: (name) @name) @definition.enum
(trait_declaration name: (name) @name) @definition.interface
