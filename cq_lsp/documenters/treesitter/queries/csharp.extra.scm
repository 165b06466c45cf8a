; C# imports and the declarations the wheel's tags.scm leaves out, for cq-lsp.
(using_directive [(qualified_name) (identifier)] @import)
(struct_declaration name: (identifier) @name) @definition.struct
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.class
(constructor_declaration name: (identifier) @name) @definition.method
(delegate_declaration name: (identifier) @name) @definition.type
(file_scoped_namespace_declaration name: (_) @name) @definition.module
(namespace_declaration name: (qualified_name) @name) @definition.module
