; Shell (bash/sh) definitions for cq-lsp (the wheel ships no tags.scm).
(function_definition name: (word) @name) @definition.function

(command
  name: (command_name (word) @_source)
  argument: [(word) (string) (raw_string)] @import
  (#any-of? @_source "source" "."))
