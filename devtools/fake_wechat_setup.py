"""The official account's set-up, for the WeChat API stand-in: its message templates, its custom menu
and the IP whitelist, as `sanzhida wechat setup` and `check` find them on a real account.

WeChat's routes here:

- `GET /cgi-bin/template/get_all_private_template` (获取模板列表): every template on the account as
  {template_id, title, primary_industry, deputy_industry, content, example}. `content` names each
  keyword as WeChat does, `编号{{character_string1.DATA}}`. By default the account holds the
  development ids (WECHAT_TEMPLATE_TASK, WECHAT_TEMPLATE_PROGRESS) with the keywords that
  config/policy.py TEMPLATES defines.
- `GET /cgi-bin/menu/get` (查询自定义菜单): the menu last created with `menu/create` on the same account
  (the access token's AppID: each official account has its own menu), each button with a
  `sub_button` list as WeChat echoes it; 46003 "menu no exist" before one was created.
- `GET /cgi-bin/get_current_selfmenu_info` (查询自定义菜单信息): `is_menu_open` and that menu in this
  API's own shape (`"sub_button": {"list": […]}`).
- The IP whitelist (IP白名单): once set, `token` from an address outside it answers 40164 with the
  caller's address in the message, "invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist rid: …",
  as WeChat does. Off by default.

Test controls: `POST /_templates {"template_id", "title", "content"}` (or a list of them) adds or
replaces templates; `DELETE /_templates/<id>` removes one, `DELETE /_templates` all; `GET /_templates`
lists them. `POST /_ip_whitelist {"ips": ["203.0.113.7"]}` sets the whitelist, `{"ips": null}` turns
it off.
"""

from __future__ import annotations

import copy
import threading
import time

from flask import Flask, jsonify, request

from config import policy
from config.settings import DEV_DEFAULTS

SETUP_ERRMSG = {
    40164: "invalid ip",
    46003: "menu no exist",
}
# The industry the console files civil-affairs templates under.
INDUSTRY = ("政府与公共事业", "公共事业|非盈利机构")


def template_content(spec: policy.TemplateSpec) -> str:
    """A template's content as the console shows it: one `label{{key.DATA}}` line per keyword."""
    return "\n".join(f"{field.label}:{{{{{field.key}.DATA}}}}" for field in spec.fields)


def development_templates() -> dict[str, dict]:
    """The templates a development account holds: the dev ids with the product's keywords."""
    ids = {"task": DEV_DEFAULTS["WECHAT_TEMPLATE_TASK"], "progress": DEV_DEFAULTS["WECHAT_TEMPLATE_PROGRESS"]}
    return {template_id: {"template_id": template_id, "title": policy.TEMPLATES[kind].title,
                          "content": template_content(policy.TEMPLATES[kind])}
            for kind, template_id in ids.items()}


class AccountSetup:
    """The account's templates, menu and IP whitelist, safe for the stand-in's request threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.templates = development_templates()
        # Each account's installed menu, by AppID (WeChat keeps one per official account).
        self.menus: dict[str | None, dict] = {}
        # None: no whitelist (WeChat's default until one is set in the console).
        self.whitelist: set[str] | None = None

    def ip_refusal(self, address: str | None) -> str | None:
        """WeChat's 40164 message for a token fetched from an address outside the whitelist, else None."""
        with self._lock:
            if self.whitelist is None or address in self.whitelist:
                return None
        rid = f"{int(time.time()) & 0xffffffff:08x}-{threading.get_ident() & 0xffff:04x}"
        return f"invalid ip {address} ipv6 ::ffff:{address}, not in whitelist rid: {rid}"

    def keep_menu(self, app_id: str | None, menu: dict) -> None:
        """Remember the menu `menu/create` installed on the account."""
        with self._lock:
            self.menus[app_id] = copy.deepcopy(menu)

    def current_menu(self, app_id: str | None) -> dict | None:
        """The account's installed menu, or None."""
        with self._lock:
            return copy.deepcopy(self.menus.get(app_id))

    def put_templates(self, templates: list[dict]) -> None:
        """Add or replace templates by id."""
        with self._lock:
            for t in templates:
                self.templates[t["template_id"]] = {k: t[k] for k in ("template_id", "title", "content")}

    def remove_templates(self, template_id: str | None = None) -> bool:
        """Remove one template (False when there was none), or every one."""
        with self._lock:
            if template_id is None:
                self.templates.clear()
                return True
            return self.templates.pop(template_id, None) is not None

    def set_whitelist(self, ips: list[str] | None) -> None:
        """Turn the IP whitelist on with these addresses, or off (None)."""
        with self._lock:
            self.whitelist = None if ips is None else set(ips)

    def template_list(self) -> list[dict]:
        """Every template as `get_all_private_template` lists it."""
        with self._lock:
            kept = list(self.templates.values())
        primary, deputy = INDUSTRY
        return [{"template_id": t["template_id"], "title": t["title"], "primary_industry": primary,
                 "deputy_industry": deputy, "content": t["content"], "example": ""} for t in kept]


def _echoed(menu: dict) -> dict:
    """`menu/get`'s answer: each button and sub-button with a `sub_button` list, as WeChat adds."""
    buttons = []
    for button in menu.get("button", []):
        subs = [{**sub, "sub_button": []} for sub in button.get("sub_button", [])]
        buttons.append({**button, "sub_button": subs})
    return {"menu": {"button": buttons}}


def _selfmenu(menu: dict | None) -> dict:
    """`get_current_selfmenu_info`'s answer: sub-buttons under `{"list": […]}`."""
    if menu is None:
        return {"is_menu_open": 0, "selfmenu_info": {"button": []}}
    buttons = []
    for button in menu.get("button", []):
        if button.get("sub_button"):
            buttons.append({"name": button["name"], "sub_button": {"list": list(button["sub_button"])}})
        else:
            buttons.append(dict(button))
    return {"is_menu_open": 1, "selfmenu_info": {"button": buttons}}


def _template_problem(template) -> str | None:
    """Why `POST /_templates` cannot take this template, or None."""
    if not isinstance(template, dict):
        return "send {\"template_id\": …, \"title\": …, \"content\": \"编号:{{character_string1.DATA}}\"}, or a list"
    for name in ("template_id", "title", "content"):
        if not isinstance(template.get(name), str) or not template[name]:
            return f"'{name}' must be a non-empty string"
    return None


def register_setup_routes(app: Flask, state, record, refused) -> None:
    """Add the set-up routes to the stand-in's app; `record` and `refused` are the app's own."""
    setup: AccountSetup = state.setup

    def app_id_of() -> str | None:
        """The account the call's access token was issued to."""
        return state.tokens.get(request.args.get("access_token", ""))

    @app.get("/cgi-bin/template/get_all_private_template")
    def all_private_templates():
        """获取模板列表."""
        refusal = refused("template/get_all_private_template", None)
        if refusal is not None:
            return refusal
        record("template/get_all_private_template", None, "delivered")
        return jsonify(template_list=setup.template_list())

    @app.get("/cgi-bin/menu/get")
    def menu_get():
        """查询自定义菜单: 46003 until a menu was created."""
        refusal = refused("menu/get", None)
        if refusal is not None:
            return refusal
        menu = setup.current_menu(app_id_of())
        if menu is None:
            record("menu/get", None, "errcode 46003")
            return jsonify(errcode=46003, errmsg=SETUP_ERRMSG[46003])
        record("menu/get", None, "delivered")
        return jsonify(_echoed(menu))

    @app.get("/cgi-bin/get_current_selfmenu_info")
    def selfmenu_info():
        """查询自定义菜单信息."""
        refusal = refused("get_current_selfmenu_info", None)
        if refusal is not None:
            return refusal
        record("get_current_selfmenu_info", None, "delivered")
        return jsonify(_selfmenu(setup.current_menu(app_id_of())))

    @app.post("/_templates")
    def add_templates():
        """Test control: add or replace templates on the account."""
        body = request.get_json(silent=True)
        templates = body if isinstance(body, list) else [body]
        problem = next((p for p in map(_template_problem, templates) if p), None)
        if problem:
            return jsonify(error=problem), 400
        setup.put_templates(templates)
        return jsonify(setup.template_list()), 201

    @app.get("/_templates")
    def list_templates():
        """Test control: the templates on the account."""
        return jsonify(setup.template_list())

    @app.delete("/_templates")
    def clear_templates():
        """Test control: remove every template."""
        setup.remove_templates()
        return "", 204

    @app.delete("/_templates/<template_id>")
    def remove_template(template_id: str):
        """Test control: remove one template."""
        return ("", 204) if setup.remove_templates(template_id) else (jsonify(error=f"no template {template_id!r}"), 404)

    @app.post("/_ip_whitelist")
    def set_whitelist():
        """Test control: set the IP whitelist (a list of addresses), or turn it off (null)."""
        body = request.get_json(silent=True)
        ips = body.get("ips", ...) if isinstance(body, dict) else ...
        if ips is not None and not (isinstance(ips, list) and all(isinstance(ip, str) for ip in ips)):
            return jsonify(error="send {\"ips\": [\"203.0.113.7\", …]} or {\"ips\": null}"), 400
        setup.set_whitelist(ips)
        return jsonify(ips=None if ips is None else sorted(ips))
