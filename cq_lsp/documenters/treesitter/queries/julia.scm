; Julia definitions for cq-lsp (the wheel ships no tags.scm).
(function_definition
  (signature [
    (call_expression . [(identifier) (field_expression)] @name)
    (typed_expression . (call_expression . [(identifier) (field_expression)] @name))
    (where_expression . (call_expression . [(identifier) (field_expression)] @name))
    (where_expression . (typed_expression . (call_expression . [(identifier) (field_expression)] @name)))
  ])) @definition.function
;; `f(x) = …` anywhere but inside a function (tags.py drops the local ones).
(assignment
  . [
    (call_expression . [(identifier) (field_expression)] @name)
    (where_expression . (call_expression . [(identifier) (field_expression)] @name))
    (typed_expression . (call_expression . [(identifier) (field_expression)] @name))
  ]
  (operator) @_eq
  (#eq? @_eq "=")) @definition.function
(macro_definition (signature (call_expression . (identifier) @name))) @definition.macro
(struct_definition (type_head [
  (identifier) @name
  (parametrized_type_expression . (identifier) @name)
  (binary_expression . (identifier) @name)
  (binary_expression . (parametrized_type_expression . (identifier) @name))
])) @definition.struct
(abstract_definition (type_head [
  (identifier) @name
  (parametrized_type_expression . (identifier) @name)
  (binary_expression . (identifier) @name)
  (binary_expression . (parametrized_type_expression . (identifier) @name))
])) @definition.type
(module_definition name: (identifier) @name) @definition.module
(const_statement (assignment . (identifier) @name)) @definition.constant

(using_statement (identifier) @import)
(import_statement (identifier) @import)
(using_statement (selected_import . (identifier) @import))
(import_statement (selected_import . (identifier) @import))
