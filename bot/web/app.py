"""The web chat face: server-rendered pages on aiohttp, one form post per tap, no script needed.

Every visitor gets one random session cookie and nothing else. Their language choice and the
screen on show live in that session, in memory; counting goes through the guide exactly as on
Telegram. No address, user agent or typed text is logged or stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from bot.callback import SHARE
from bot.config import Settings
from bot.engine import LANGUAGE_PREFIX, Button, Engine, Reply
from bot.flood import Throttle
from bot.guide import COMMAND_NAMES, LISTED, Guide, Resident
from bot.i18n import LANGUAGES, best_language, is_rtl
from bot.web.render import paragraphs, plain
from bot.web.sessions import PREFIX, Session, Sessions

log = logging.getLogger(__name__)

COOKIE = "session"
MAX_BODY = 4096  # a tap is under 100 bytes, a typed question at most MAX_TEXT characters
MAX_TEXT = 500
# Strict: nothing from elsewhere, no script, forms only to this site, never in a frame.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
_STATIC = resources.files("bot.web") / "static"


class WebChat:
    """The web face of the guide: pages, form posts, sessions and flood guards."""

    def __init__(
        self,
        settings: Settings,
        guide: Guide,
        *,
        sessions: Sessions | None = None,
        per_session: Throttle | None = None,
        per_address: Throttle | None = None,
    ) -> None:
        self.settings = settings
        # "is None": an empty Sessions or Throttle is falsy (they have a length).
        self.sessions = Sessions() if sessions is None else sessions
        # The same rules as every face; the language choice is kept in the visitor's session.
        self.guide = guide.with_memory(self.sessions)
        self.per_session = Throttle() if per_session is None else per_session
        # A library's or a school's wifi puts many residents behind one address.
        self.per_address = Throttle(burst=200, rate=10.0) if per_address is None else per_address
        self.secure = (settings.bot_web_url or "").startswith("https://")
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("bot.web", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._page = self.templates.get_template("page.html")
        self._css = (_STATIC / "style.css").read_bytes()

    def application(self) -> web.Application:
        """The aiohttp application with its routes; bodies over MAX_BODY are refused (413)."""
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._headers])
        app.router.add_get("/", self.page, name="page")
        app.router.add_post("/", self.act, name="act")
        app.router.add_get("/style.css", self.style, name="style")
        # Browsers ask for it unasked; an empty answer spares a 404 in every visit's console.
        app.router.add_get("/favicon.ico", _no_icon, name="icon")
        return app

    # -- requests ---------------------------------------------------------------------------------

    @web.middleware
    async def _headers(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            response = await self._refusal(request, 413)
        except web.HTTPException as error:
            error.headers.update(HEADERS)  # a 404 or 405 is a page like any other
            raise
        response.headers.update(HEADERS)
        return response

    async def page(self, request: web.Request) -> web.Response:
        """GET /: the screen on show; a new visitor (or /?src=library) starts with the picker."""
        session = self.sessions.get(request.cookies.get(COOKIE))
        source = request.query.get("src", "")[:64]
        token = None
        if session is None or source or session.reply is None:
            # A new visitor is checked before a session is made for them: a flood of new
            # visitors from one address makes no sessions.
            if (refused := await self._flooding(request, session)) is not None:
                return refused
            if session is None:
                token, session = self.sessions.new(_hint(request))
            session.reply = await self.guide.start(session.resident, source or None)
        # A page with a phone number on it is shown again only while its request is pending.
        session.reply = await self.guide.still(session.resident, session.reply)
        response = await self._render(session.resident, session.reply, session.form_token)
        if token is not None:
            self._set_cookie(response, token)
        return response

    async def act(self, request: web.Request) -> web.StreamResponse:
        """POST /: a button, a typed question or a command; then back to GET / (no re-post)."""
        if not _same_site(request):
            log.info("web: a form post from another site was refused")
            return await self._refusal(request, 403)
        try:
            form = await request.post()
        except (ValueError, HttpProcessingError):  # a malformed body or multipart part
            return await self._refusal(request, 400)
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            # Expired (or never had one): start again rather than act on an old page.
            token, session = self.sessions.new(_hint(request))
            session.reply = await self.guide.start(session.resident)
            response = _see_page()
            self._set_cookie(response, token)
            return response
        if form.get("t") != session.form_token:
            log.info("web: a form post without this session's token was refused")
            return await self._refusal(request, 403)
        if (refused := await self._flooding(request, session)) is not None:
            return refused
        session.reply = await self._answer(session.resident, form)
        return _see_page()

    async def _answer(self, resident: Resident, form: Any) -> Reply:
        button, text, command = form.get("b"), form.get("q"), form.get("c")
        phone = form.get("p")
        if isinstance(phone, str):
            return await self.guide.phone(resident, phone[:40])
        if isinstance(button, str):
            return await self.guide.press(resident, button[:80])
        if isinstance(text, str) and text.strip():
            return await self.guide.type(resident, text[:MAX_TEXT])
        if isinstance(command, str) and command in COMMAND_NAMES:
            return await self.guide.command(resident, command)
        return await self.guide.other(resident)

    async def style(self, _request: web.Request) -> web.Response:
        response = web.Response(body=self._css, content_type="text/css")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    # -- answers ---------------------------------------------------------------------------------

    async def _flooding(self, request: web.Request, session: Session | None) -> web.Response | None:
        """A 429 page when this session or address sends too much; None to go on."""
        # The address is only a key in memory, pruned within minutes; never logged or stored.
        verdicts = [self.per_address.check(request.remote or "")]
        if session is not None:
            verdicts.append(self.per_session.check(session.resident.id))
        if all(verdict == "ok" for verdict in verdicts):
            return None
        resident = session.resident if session else Resident(PREFIX, _hint(request))
        return await self._render(resident, await self.guide.slow_down(resident), status=429)

    async def _refusal(self, request: web.Request, status: int) -> web.Response:
        """A kind page for a refused post (forged, cross-site, too large, malformed)."""
        session = self.sessions.get(request.cookies.get(COOKIE))
        resident = session.resident if session else Resident(PREFIX, _hint(request))
        tr = self.guide.engine.catalogs[(await self.guide.language(resident)).answer]
        _ = tr.gettext
        texts = {
            # Translators: the web chat refused a form that did not come from its own page.
            403: _("This form did not come from this page, so nothing was done."),
            # Translators: the web chat received far more text than a question needs.
            413: _("That was more than the chat can read. Please write a shorter question."),
            # Translators: the web chat could not read what the browser sent.
            400: _("The chat could not read what was sent. Please try again."),
        }
        reply = Reply(tr.bidi(texts[status]))
        return await self._render(resident, reply, status=status)

    async def _render(
        self, resident: Resident, reply: Reply, token: str = "", *, status: int = 200
    ) -> web.Response:
        """The page in the resident's language; with a token, its buttons and forms too."""
        code = (await self.guide.language(resident)).answer
        tr = self.guide.engine.catalogs[code]
        _ = tr.gettext
        # A reply with a phone number in it is rendered afresh, never from the cache.
        shown = paragraphs.__wrapped__(reply) if reply.personal else paragraphs(reply)
        if reply.notice:
            shown = paragraphs(Reply(reply.notice)) + shown
        html = self._page.render(
            lang=code,
            dir="rtl" if is_rtl(code) else "ltr",
            # Translators: the web chat's page title and heading: the bot's name.
            title=_("Vollsmose Guide"),
            paragraphs=shown,
            rows=[
                [(plain(b.label), b.data, _named_language(b.data)) for b in row if _shown(b)]
                for row in reply.buttons
                if any(_shown(b) for b in row)
            ],
            phone=reply.phone,
            # Translators: label of the web chat's field for a phone number to be called on.
            phone_label=_("Your phone number"),
            # Translators: the button under the phone number field of the web chat.
            phone_send=_("Continue"),
            actions=bool(token),
            token=token,
            # Translators: label of the web chat's text field for a typed question.
            ask=_("Ask a question"),
            # Translators: the button that sends a typed question in the web chat.
            send=_("Send"),
            commands=[(c.name, _(c.description)) for c in LISTED],
        )
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")

    def _set_cookie(self, response: web.StreamResponse, token: str) -> None:
        # No Max-Age: the browser drops it when closed; the server forgets it sooner when idle.
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="Strict", secure=self.secure, path="/"
        )


def _shown(button: Button) -> bool:
    """Telegram's share-my-number button has no meaning on a page: the field stands for it."""
    return Engine.parse(button.data)[0] != SHARE


def _named_language(data: str) -> str | None:
    """The language a picker button names, so a screen reader says "العربية" in Arabic."""
    target = Engine.parse(data)[0]
    code = target.removeprefix(LANGUAGE_PREFIX)
    return code if target.startswith(LANGUAGE_PREFIX) and code in LANGUAGES else None


async def _no_icon(_request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Cache-Control": "public, max-age=86400"})


def _see_page() -> web.Response:
    """303 to GET /: a reload or the browser's back button never posts the tap again."""
    return web.Response(status=303, headers={"Location": "/"})


def _hint(request: web.Request) -> str | None:
    """The browser's first shipped language from Accept-Language, as a hint only."""
    for item in request.headers.get("Accept-Language", "")[:200].split(","):
        code = best_language(item.split(";")[0].strip())
        if code is not None:
            return code
    return None


def _same_site(request: web.Request) -> bool:
    """Whether a post came from this site's own page (Fetch metadata, else Origin)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


class AccessLog(AbstractAccessLogger):
    """One line per request with the route and status only: no address, agent, path or query."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = request.match_info.route.name if isinstance(request, web.Request) else None
        self.logger.debug(
            "web %s %s -> %d in %.1f ms", request.method, route or "-", response.status, time * 1e3
        )


class WithholdPeers(logging.Filter):
    """aiohttp logs a malformed request with the sender's address and the bytes it sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Error handling request"):
            kind = type(record.exc_info[1]).__name__ if record.exc_info else "error"
            record.msg, record.args, record.exc_info = (
                "web: a malformed request (%s)",
                (kind,),
                None,
            )
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def runner_options() -> dict[str, Any]:
    """How the server logs: routes and statuses only, malformed requests without their sender."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, WithholdPeers) for f in server_log.filters):
        server_log.addFilter(WithholdPeers())
    return {"access_log_class": AccessLog, "access_log": logging.getLogger("bot.web.access")}


async def start(chat: WebChat, host: str, port: int) -> web.AppRunner:
    """Serve the web chat on host:port in the running event loop; stop with runner.cleanup()."""
    runner = web.AppRunner(chat.application(), handle_signals=False, **runner_options())
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    log.info("web chat listening on %s:%d", host, port)
    return runner
