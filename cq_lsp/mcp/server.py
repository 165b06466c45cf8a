"""`cq-lsp mcp`: the tool table of tools.py served with the official MCP SDK.

stdio by default (what `claude mcp add cq-lsp -- cq-lsp mcp` starts); ``--http`` serves the SDK's
streamable HTTP transport on 127.0.0.1, refusing requests whose Host or Origin header is not
local (DNS rebinding) and, when bound to anything but loopback, requiring a bearer token.

The SDK (with pydantic, starlette and anyio) is imported here only, and this module only when
`cq-lsp mcp` runs: the other commands must not pay its ~0.4 s import.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cq_lsp import __version__
from cq_lsp.errors import CqLspError, UsageError
from cq_lsp.mcp.args import check_arguments
from cq_lsp.mcp.catchup import files_needing_catchup
from cq_lsp.mcp.tools import BY_NAME, MAX_RESULT_CHARS, TOOLS, Roots, Tool, tool_get_file

log = logging.getLogger(__name__)

TOKEN_ENV = "CQ_LSP_MCP_TOKEN"
DEFAULT_PORT = 8765
STATUS_URI = "cq://status"
FILE_PREFIX = "cq://file/"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

INSTRUCTIONS = (
    "cq-lsp keeps a searchable documentation index of this git work tree fresh. Before reading "
    "files to find where something is, call search (or find_symbol for a definition); get_file "
    "gives one file's documentation. A hit with fresh=false describes an older version of the "
    "file: read the file itself. To keep the index fresh without an API key of your own, call "
    "find_files_needing_catchup and document those files with insert_file_documentation "
    "(the document_files prompt explains how)."
)


# -- results and errors -----------------------------------------------------------------------


def cap_result(result: dict[str, Any], max_chars: int = MAX_RESULT_CHARS) -> tuple[dict, str]:
    """The result and its JSON text, cut to ``max_chars``: the longest list loses its tail, or
    the largest field is replaced by a note; the result then says what was cut."""
    text = json.dumps(result, ensure_ascii=False)
    if len(text) <= max_chars:
        return result, text
    out = dict(result)
    lists = [k for k, v in out.items() if isinstance(v, list) and v]
    while lists and len(text) > max_chars:
        key = max(lists, key=lambda k: len(json.dumps(out[k], ensure_ascii=False)))
        items = out[key]
        keep = max(0, len(items) // 2 if len(items) > 1 else 0)
        out[key] = items[:keep]
        out["truncated"] = True
        out["hint"] = f"the answer was cut to {max_chars:,} characters: ask for a smaller limit"
        lists = [k for k, v in out.items() if isinstance(v, list) and v]
        text = json.dumps(out, ensure_ascii=False)
    while len(text) > max_chars:
        key = max(
            (k for k in out if k not in ("truncated", "hint")),
            key=lambda k: len(json.dumps(out[k], ensure_ascii=False)),
        )
        out[key] = f"(omitted: {len(json.dumps(out[key], ensure_ascii=False)):,} characters)"
        out["truncated"] = True
        out["hint"] = f"the answer was cut to {max_chars:,} characters"
        text = json.dumps(out, ensure_ascii=False)
    return out, text


def error_text(exc: CqLspError) -> str:
    return f"{exc.message}\nhint: {exc.hint}" if exc.hint else exc.message


def call_tool(roots: Roots, tool: Tool, arguments: Any) -> dict[str, Any]:
    """Check the arguments and run the tool (in a worker thread: it may read files and wait)."""
    args = check_arguments(tool.name, tool.schema, arguments)
    return tool.handler(roots, args)


def read_resource(roots: Roots, uri: str) -> dict[str, Any]:
    if uri == STATUS_URI:
        return BY_NAME["get_status"].handler(roots, {"catchup": True})
    if uri.startswith(FILE_PREFIX):
        rel = unquote(uri[len(FILE_PREFIX) :])
        if not rel:
            raise UsageError(f"{uri}: no path", hint="use cq://file/<repo-relative path>")
        return tool_get_file(roots, {"path": rel, "limit": 10})
    raise UsageError(
        f"unknown resource {uri!r}",
        hint=f"resources are {STATUS_URI} and {FILE_PREFIX}{{path}}",
    )


def document_files_prompt(roots: Roots, limit: int, root: str | None) -> str:
    """What an agent should do to document the files that need catching up."""
    ws = roots.pick(root)
    catchup = files_needing_catchup(ws, limit=limit)
    listing = (
        "\n".join(f"- {f['path']} ({f['reason']})" for f in catchup["files"])
        or "- (none: every tracked file's documentation is current)"
    )
    more = (
        f"\n… and {catchup['total'] - len(catchup['files'])} more "
        "(call find_files_needing_catchup for the rest)."
        if catchup["truncated"]
        else ""
    )
    return (
        f"Document the files of {ws.project.root} whose documentation is missing or stale, so "
        "that search answers from current documentation.\n\n"
        f"Files needing catch-up ({catchup['total']}):\n{listing}{more}\n\n"
        "For each file:\n"
        "1. Read the file as it is now.\n"
        "2. Call insert_file_documentation with filepath (as listed) and:\n"
        "   - overview: what the file is for in two to five sentences (search ranks it high);\n"
        '   - functions: {"name": {"signature": "...", "doc": "what it does", "line": N}};\n'
        '   - types_interfaces_classes: {"Name": {"kind": "class", "doc": "...", "line": N, '
        '"methods": {...}}};\n'
        '   - imports {"module": ["names"]}, exports {"name": "kind"}, constants '
        '{"NAME": "meaning"}, dependencies ["pkg"], other_notes ["..."], ddd_context '
        '"domain".\n'
        "   Describe only what the file contains; never invent names.\n"
        "3. For a deleted file there is nothing to document: call index with its path and the "
        "index forgets it.\n"
        "Work in batches; if a file is refused (ignored, binary, too large), skip it. When done, "
        "call find_files_needing_catchup again: it should list none of these files."
    )


# -- the SDK server ----------------------------------------------------------------------------


def build_server(roots: Roots) -> Any:
    """The SDK's low-level Server with cq-lsp's tools, resources and prompt."""
    from functools import partial

    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    def mcp_error(exc: CqLspError) -> MCPError:
        # JSON-RPC codes at this edge only: invalid params (-32602) or internal error (-32603).
        return MCPError(-32602 if exc.bad_request else -32603, error_text(exc), exc.to_dict())

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=t.name,
                    title=t.title,
                    description=t.description,
                    input_schema=t.schema,
                    annotations=types.ToolAnnotations(
                        title=t.title,
                        read_only_hint=t.read_only,
                        destructive_hint=False,
                        idempotent_hint=True,
                        open_world_hint=False,
                    ),
                )
                for t in TOOLS
            ]
        )

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        tool = BY_NAME.get(params.name)
        if tool is None:
            raise MCPError(
                types.INVALID_PARAMS,
                f"unknown tool {params.name!r}; the tools are: " + ", ".join(BY_NAME),
            )
        try:
            result = await anyio.to_thread.run_sync(
                partial(call_tool, roots, tool, params.arguments)
            )
        except CqLspError as exc:
            return types.CallToolResult(
                content=[types.TextContent(text=error_text(exc))],
                structured_content=exc.to_dict(),
                is_error=True,
            )
        except Exception as exc:  # a bug of ours: the agent hears it, the server lives on
            log.exception("tool %s failed", tool.name)
            return types.CallToolResult(
                content=[
                    types.TextContent(
                        text=f"internal error in {tool.name}: {type(exc).__name__}: {exc}\n"
                        "hint: this is a cq-lsp bug; the server's stderr has the traceback"
                    )
                ],
                is_error=True,
            )
        capped, text = cap_result(result)
        return types.CallToolResult(
            content=[types.TextContent(text=text)], structured_content=capped
        )

    async def list_resources(ctx: Any, params: Any) -> Any:
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=STATUS_URI,
                    name="status",
                    title="cq-lsp status",
                    description="Worker, queue and index of each work tree (get_status).",
                    mime_type="application/json",
                )
            ]
        )

    async def list_templates(ctx: Any, params: Any) -> Any:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=FILE_PREFIX + "{path}",
                    name="file",
                    title="A file's documentation",
                    description="One file's documentation (get_file), path relative to the "
                    "work tree root.",
                    mime_type="application/json",
                )
            ]
        )

    async def on_read_resource(ctx: Any, params: Any) -> Any:
        uri = str(params.uri)
        try:
            result = await anyio.to_thread.run_sync(partial(read_resource, roots, uri))
        except CqLspError as exc:
            raise mcp_error(exc) from None
        _capped, text = cap_result(result)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )

    async def list_prompts(ctx: Any, params: Any) -> Any:
        return types.ListPromptsResult(
            prompts=[
                types.Prompt(
                    name="document_files",
                    title="Document what needs catching up",
                    description="Tells you how to document the files whose documentation is "
                    "missing or stale, and lists them.",
                    arguments=[
                        types.PromptArgument(
                            name="limit", description="How many files to list (default 20)."
                        ),
                        types.PromptArgument(
                            name="root", description="The work tree (default: the first)."
                        ),
                    ],
                )
            ]
        )

    async def on_get_prompt(ctx: Any, params: Any) -> Any:
        if params.name != "document_files":
            raise MCPError(
                types.INVALID_PARAMS,
                f"unknown prompt {params.name!r}; the prompt is document_files",
            )
        args = params.arguments or {}
        raw_limit = args.get("limit") or "20"
        if not str(raw_limit).isdigit() or not 1 <= int(raw_limit) <= 1000:
            raise MCPError(
                types.INVALID_PARAMS,
                f"document_files: limit must be a whole number from 1 to 1000, got {raw_limit!r}",
            )
        try:
            text = await anyio.to_thread.run_sync(
                partial(document_files_prompt, roots, int(raw_limit), args.get("root"))
            )
        except CqLspError as exc:
            raise mcp_error(exc) from None
        return types.GetPromptResult(
            description="Document the files whose documentation is missing or stale",
            messages=[types.PromptMessage(role="user", content=types.TextContent(text=text))],
        )

    return Server(
        "cq-lsp",
        version=__version__,
        title="cq-lsp documentation index",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=on_call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=on_read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=on_get_prompt,
    )


# -- transports --------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class TokenGate:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                from starlette.responses import JSONResponse

                response = JSONResponse(
                    {
                        "error": "missing or wrong bearer token",
                        "hint": f"send `Authorization: Bearer <token>` with the token the server "
                        f"was started with ({TOKEN_ENV})",
                    },
                    status_code=401,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def security_settings(host: str) -> Any:
    """Host/Origin allow-lists: the loopback names, and the bind address when it is not one."""
    from mcp.server.transport_security import TransportSecuritySettings

    names = list(LOOPBACK_NAMES)
    bind = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if bind not in names:
        names.append(bind)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*names, *(f"{n}:*" for n in names)],
        allowed_origins=[
            *(f"{scheme}://{n}" for scheme in ("http", "https") for n in names),
            *(f"{scheme}://{n}:*" for scheme in ("http", "https") for n in names),
        ],
    )


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as exc:
        raise CqLspError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port (0 picks a free one) or stop what uses this one",
        ) from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


async def serve_stdio(server: Any) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(server: Any, host: str, port: int, token: str | None) -> None:
    import uvicorn

    app = server.streamable_http_app(
        streamable_http_path="/mcp", transport_security=security_settings(host), host=host
    )
    if token:
        app = TokenGate(app, token)
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    # The one line a script (or a test) reads to learn the port when --port 0 picked one.
    sys.stderr.write(f"cq-lsp mcp: listening on http://{shown}:{actual}/mcp\n")
    sys.stderr.flush()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def run_mcp(
    roots: Sequence[str | Path | None],
    *,
    http: bool = False,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
) -> int:
    """`cq-lsp mcp`: serve until stdin closes (stdio) or the process is stopped (HTTP)."""
    token = os.environ.get(TOKEN_ENV) or None
    if http:
        if not 0 <= port <= 65535:
            raise UsageError(f"--port must be from 0 to 65535, got {port}")
        if not is_loopback(host) and not token:
            raise UsageError(
                f"--host {host} is reachable from other machines, so the MCP server needs a token",
                hint=f"set {TOKEN_ENV} to a long random secret (clients send it as "
                "`Authorization: Bearer <token>`), or keep the default --host 127.0.0.1",
            )
    opened = Roots(list(roots) or [None])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="cq-lsp mcp: %(message)s")
    import anyio

    server = build_server(opened)
    try:
        if http:
            anyio.run(serve_http, server, host, port, token)
        else:
            anyio.run(serve_stdio, server)
    except KeyboardInterrupt:
        pass
    finally:
        opened.close()
    return 0
