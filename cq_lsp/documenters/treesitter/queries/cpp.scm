; C++ definitions for cq-lsp (the wheel's tags.scm also tags prototypes and struct uses).
(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))
  ]) @definition.function

(struct_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.struct
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.struct
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.enum
(type_definition declarator: (type_identifier) @name) @definition.type
(type_definition declarator: (pointer_declarator declarator: (type_identifier) @name)) @definition.type
(type_definition
  declarator: (function_declarator declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name)))) @definition.type

(preproc_def name: (identifier) @name) @definition.constant
(preproc_function_def name: (identifier) @name) @definition.macro

(preproc_include path: (_) @import)

(function_definition
  declarator: (function_declarator
    declarator: [(field_identifier) (operator_name) (destructor_name)] @name)) @definition.method
(function_definition
  declarator: (function_declarator
    declarator: (qualified_identifier
      name: [(identifier) (destructor_name) (operator_name)] @name))) @definition.method
(function_definition
  declarator: (reference_declarator (function_declarator
    declarator: (qualified_identifier name: (identifier) @name)))) @definition.method
(function_definition
  declarator: (pointer_declarator declarator: (function_declarator
    declarator: (qualified_identifier name: [(identifier) (operator_name)] @name)))) @definition.method
(class_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.class
(namespace_definition name: (namespace_identifier) @name) @definition.module
(alias_declaration name: (type_identifier) @name) @definition.type
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.enum

; Methods returning a reference or a pointer, written inside their class or outside it.
(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: [(field_identifier) (identifier) (operator_name)] @name))) @definition.method
(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: [(field_identifier) (operator_name)] @name))) @definition.method
(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: (qualified_identifier name: (operator_name) @name)))) @definition.method
(function_definition
  declarator: (operator_cast) @name) @definition.method
(function_definition
  declarator: (qualified_identifier name: (operator_cast) @name)) @definition.method
