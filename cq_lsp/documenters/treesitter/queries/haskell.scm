; Haskell definitions for cq-lsp (the wheel ships no tags.scm). A function's type signature comes
; first in the file, so it is the definition's line; equations without one still count.
(header module: (module) @name) @definition.module
(data_type name: (name) @name) @definition.type
(newtype name: (name) @name) @definition.type
(type_synonym name: (name) @name) @definition.type
(type_family name: (name) @name) @definition.type
(class name: (name) @name) @definition.interface
(declarations (signature name: (variable) @name) @definition.function)
(class_declarations (signature name: (variable) @name) @definition.function)
(declarations (function name: (variable) @name) @definition.function)
(declarations (bind name: (variable) @name) @definition.function)

(import module: (module) @import)
