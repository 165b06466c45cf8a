; Elixir imports for cq-lsp, after the wheel's tags.scm.
(call
  target: (identifier) @_keyword
  (arguments . (alias) @import)
  (#any-of? @_keyword "alias" "import" "use" "require"))
