; Ruby imports for cq-lsp, after the wheel's tags.scm.
(call
  method: (identifier) @_require
  arguments: (argument_list . (string (string_content) @import))
  (#any-of? @_require "require" "require_relative"))
(assignment left: (constant) @name) @definition.constant
