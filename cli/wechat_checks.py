"""What `sanzhida wechat setup` and `check` look at on the official account: the token and why WeChat
refuses one, the template ids and their keywords, the custom menu, WeChat's callback addresses, this
server's outbound address for the IP whitelist, and what to paste into the WeChat console.

Each finding is printed as it is made (`ok`, `note` or `PROBLEM`); the command fails when any
problem was found.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
import uuid
from urllib.parse import urlparse

from dataclasses import dataclass, field

import click
import requests
from wechatpy.utils import WeChatSigner

from config import policy
from config.settings import Settings
from handlers.menu import MENU
from services.wechat_accounts import AccountSecrets

# The setting that names each template kind's id (config/policy.py TEMPLATES).
TEMPLATE_SETTINGS = {"task": "WECHAT_TEMPLATE_TASK", "progress": "WECHAT_TEMPLATE_PROGRESS"}
# A keyword in a template's content: {{thing2.DATA}}.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+\d*)\.DATA\s*\}\}")
# WeChat's 40164 names the address it saw: "invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist".
REFUSED_IP = re.compile(r"invalid ip ([0-9A-Fa-f:.]+)")
TOKEN_ERRORS = {
    40001: "WECHAT_APP_SECRET is wrong (AppSecret, 开发者密码); reset it in the console if unsure",
    40002: "the token request was malformed (grant_type)",
    40013: "WECHAT_APP_ID is not this account's AppID (开发者ID)",
    40125: "WECHAT_APP_SECRET is wrong (AppSecret, 开发者密码); reset it in the console if unsure",
    41002: "WECHAT_APP_ID is empty",
    41004: "WECHAT_APP_SECRET is empty",
    45009: "the account used up today's token quota; try again tomorrow or reset the quota in the console",
}


class Findings:
    """Prints each finding as it is made and counts the problems."""

    def __init__(self):
        self.problems = 0

    @staticmethod
    def heading(text: str) -> None:
        """A section title."""
        click.echo(f"\n{text}")

    @staticmethod
    def ok(text: str) -> None:
        """Something checked and in order."""
        click.echo(f"  ok       {text}")

    @staticmethod
    def note(text: str) -> None:
        """Something to know that does not stop the service."""
        click.echo(f"  note     {text}")

    def problem(self, text: str) -> None:
        """Something that must be fixed."""
        self.problems += 1
        click.echo(f"  PROBLEM  {text}")


@dataclass(frozen=True)
class Target:
    """The official account a setup or check is about: the settings' default one, or one added with
    `wechat accounts add` (its own AppID, Token, EncodingAESKey, webhook and template ids)."""

    app_id: str
    token: str = field(repr=False)
    aes_key: str | None = field(repr=False)
    webhook_url: str
    # Each template kind's id, and how the operator sets it (named in the messages).
    template_ids: dict[str, str]
    template_names: dict[str, str]
    # How the operator gives its AppID and AppSecret, for the token's error messages.
    credential_names: dict[str, str] = field(default_factory=lambda: {
        "WECHAT_APP_ID": "WECHAT_APP_ID", "WECHAT_APP_SECRET": "WECHAT_APP_SECRET"})

    @property
    def safe_mode(self) -> bool:
        """Messages encrypted (安全模式)."""
        return bool(self.aes_key)


def default_target(settings: Settings) -> Target:
    """The settings' account, served at /wechat."""
    return Target(settings.wechat_app_id, settings.wechat_token, settings.wechat_encoding_aes_key,
                  f"{settings.public_base_url}/wechat",
                  {"task": settings.wechat_template_task, "progress": settings.wechat_template_progress},
                  dict(TEMPLATE_SETTINGS))


def account_target(settings: Settings, account: AccountSecrets) -> Target:
    """An added account, served at /wechat/<slug>; a template it has no id of is the settings' one."""
    ids, names = default_target(settings).template_ids, dict(TEMPLATE_SETTINGS)
    for kind, own in (("task", account.template_task), ("progress", account.template_progress)):
        if own:
            ids[kind], names[kind] = own, f"account {account.slug}'s --template-{kind}"
    added = f"`wechat accounts add --slug {account.slug}`"
    return Target(account.app_id, account.token, account.aes_key, f"{settings.public_base_url}/wechat/{account.slug}",
                  ids, names, {"WECHAT_APP_ID": f"the --app-id of {added}",
                               "WECHAT_APP_SECRET": f"the --secret of {added}"})


def refused_address(errmsg: str | None) -> str | None:
    """The address WeChat names in a 40164 refusal, if any."""
    match = REFUSED_IP.search(errmsg or "")
    return match.group(1) if match else None


def fetch_token(client, settings: Settings, target: Target, findings: Findings) -> tuple[bool, str | None]:
    """Fetch a fresh token; (whether it worked, the address WeChat named when the whitelist refused us)."""
    from wechatpy.exceptions import WeChatClientException

    try:
        client.fetch_access_token()
    except WeChatClientException as exc:
        address = refused_address(exc.errmsg) if exc.errcode == 40164 else None
        if address:
            findings.problem(f"WeChat refused the token: this server's address {address} is not in the IP whitelist. "
                             "Add it under 设置与开发 → 基本配置 → IP白名单.")
        elif exc.errcode is None:
            findings.problem(f"WeChat's API cannot be reached at {settings.wechat_api_base_url} ({exc.errmsg}): "
                             "check the network, DNS or outgoing proxy.")
        else:
            why = TOKEN_ERRORS.get(exc.errcode, "see WeChat's error code list")
            for setting, given_as in target.credential_names.items():
                why = why.replace(setting, given_as)
            findings.problem(f"WeChat refused the token (errcode {exc.errcode}): {why}.")
        return False, address
    findings.ok(f"token fetched for {target.app_id}: AppID, AppSecret and the IP whitelist admit this server")
    return True, None


def template_keys(content: str) -> list[str]:
    """The keywords a template's content holds, in order ({{thing2.DATA}} -> thing2)."""
    return PLACEHOLDER.findall(content or "")


def _keywords(spec: policy.TemplateSpec) -> str:
    return ", ".join(f"{f.label} {f.key}" for f in spec.fields)


def check_templates(client, target: Target, findings: Findings) -> None:
    """Each configured template id is on the account (get_all_private_template), with every keyword the
    product fills."""
    from wechatpy.exceptions import WeChatClientException

    try:
        listed = client.template.get_all_private_template().get("template_list") or []
    except WeChatClientException as exc:
        findings.problem(f"the template list (get_all_private_template) failed: errcode {exc.errcode} {exc.errmsg}")
        return
    on_account = {t.get("template_id"): t for t in listed if isinstance(t, dict)}
    configured, names = target.template_ids, target.template_names
    if configured["task"] == configured["progress"]:
        findings.problem(f"{names['task']} and {names['progress']} name the same template; "
                         "tasks to staff and progress notices need one each.")
    for kind, spec in policy.TEMPLATES.items():
        name, template_id = names[kind], configured[kind]
        template = on_account.get(template_id)
        if template is None:
            same_title = [t["template_id"] for t in on_account.values() if t.get("title") == spec.title]
            hint = (f" The account has 「{spec.title}」 as {same_title[0]}: set {name} to that id." if same_title else
                    f" Add 「{spec.title}」 (广告与服务 → 模板消息 → 模板库) with the keywords {_keywords(spec)},"
                    f" then set {name} to its id.")
            findings.problem(f"{name}={template_id}: no template with this id on the account "
                             f"({len(on_account)} there).{hint}")
            continue
        keys = template_keys(template.get("content", ""))
        missing = [f for f in spec.fields if f.key not in keys]
        unfilled = [key for key in keys if key not in {f.key for f in spec.fields}]
        title = template.get("title") or "?"
        if missing:
            findings.problem(
                f"{name}={template_id} 「{title}」 lacks the keyword(s) the product fills: "
                + ", ".join(f"{f.key} ({f.label}, {f.type})" for f in missing)
                + f". It has {', '.join(keys) or 'none'}; choose a template with {_keywords(spec)}.")
        else:
            findings.ok(f"{name}={template_id} 「{title}」 has every keyword the product fills ({', '.join(keys)})")
        if unfilled:
            findings.note(f"{name}: keyword(s) {', '.join(unfilled)} are not filled by the product and show empty.")


def _menu_keys(buttons) -> dict[str, str]:
    """{click key: button name} of a menu, in either API's shape (sub_button a list or {"list": […]})."""
    keys = {}
    for button in buttons or []:
        subs = button.get("sub_button")
        subs = subs.get("list", []) if isinstance(subs, dict) else subs or []
        if button.get("key"):
            keys[button["key"]] = button.get("name", "")
        keys.update(_menu_keys(subs) if subs else {})
    return keys


def check_menu(selfmenu: dict, findings: Findings) -> None:
    """The menu users see (get_current_selfmenu_info) has every button the product answers."""
    if not selfmenu.get("is_menu_open"):
        findings.problem("no custom menu is open on the account: run `sanzhida wechat setup` (or `wechat menu push`).")
        return
    shown = _menu_keys((selfmenu.get("selfmenu_info") or {}).get("button"))
    wanted = _menu_keys(MENU["button"])
    missing = [f"{name} ({key})" for key, name in wanted.items() if key not in shown]
    unknown = [f"{name} ({key})" for key, name in shown.items() if key not in wanted]
    if missing:
        findings.problem(f"the custom menu lacks {', '.join(missing)}: run `sanzhida wechat setup` to install "
                         "the product's menu.")
    else:
        findings.ok(f"the custom menu has every button the product answers ({len(wanted)})")
    if unknown:
        findings.note(f"menu button(s) {', '.join(unknown)} send keys the service does not know; "
                      "users get the general help.")


def callback_addresses(client, findings: Findings) -> None:
    """WeChat's own callback addresses (getcallbackip), and what they are for."""
    from wechatpy.exceptions import WeChatClientException

    try:
        # Called plainly: wechatpy's get_wechat_ips hands back a bare list, which our client refuses as not JSON.
        ips = client.get("getcallbackip").get("ip_list") or []
    except WeChatClientException as exc:
        findings.problem(f"WeChat's callback address list (getcallbackip) failed: errcode {exc.errcode} {exc.errmsg}")
        return
    shown = ", ".join(ips[:5]) + (" …" if len(ips) > 5 else "")
    findings.ok(f"getcallbackip: WeChat posts to /wechat from {len(ips)} address(es) of its own ({shown}). "
                "Let them through if a firewall guards the web service; they are not this server's address "
                "and do not go into the IP whitelist.")


def public_url_notes(settings: Settings, target: Target, findings: Findings) -> None:
    """What WeChat requires of PUBLIC_BASE_URL and of the message mode."""
    url = urlparse(settings.public_base_url)
    # Outside production the address is a local one WeChat never reaches: worth knowing, not a failure.
    report = findings.problem if settings.is_production else findings.note
    if url.port not in (None, 80, 443):
        report(f"PUBLIC_BASE_URL {settings.public_base_url} uses port {url.port}; WeChat's server URL "
                         "and web authorisation work only on ports 80 and 443.")
    if _is_address(url.hostname or ""):
        findings.note(f"PUBLIC_BASE_URL's host {url.hostname} is an address: WeChat's web authorisation "
                      "(the staff's mobile pages) needs a registered domain name.")
    if not target.safe_mode:
        findings.note("WECHAT_ENCODING_AES_KEY is not set, so messages are plaintext (明文模式). 安全模式 is "
                      "recommended: generate the key in the console (随机生成) and set WECHAT_ENCODING_AES_KEY.")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return True


def print_console(settings: Settings, target: Target) -> None:
    """What to paste into the WeChat console of the account."""
    host = urlparse(settings.public_base_url).hostname
    click.echo(f"\nPaste into the WeChat console of {target.app_id}, 设置与开发 → 基本配置 → 服务器配置 (修改配置):")
    click.echo(f"  服务器地址(URL)                  {target.webhook_url}")
    click.echo(f"  令牌(Token)                      {target.token}")
    click.echo(f"  消息加解密密钥(EncodingAESKey)   {target.aes_key or '(set WECHAT_ENCODING_AES_KEY first)'}")
    click.echo(f"  消息加解密方式                   {'安全模式' if target.safe_mode else '明文模式 (安全模式 recommended)'}")
    click.echo("  then 启用 (enable) the server configuration.")
    click.echo("For the staff's mobile pages, 设置与开发 → 公众号设置 → 功能设置 → 网页授权域名:")
    click.echo(f"  {host}")
    click.echo(f"  WeChat asks for its MP_verify_….txt file at https://{host}/MP_verify_….txt: serve it from the "
               "reverse proxy.")


def outbound_addresses(settings: Settings, given: tuple[str, ...], echo_url: str | None,
                       refused: str | None, findings: Findings) -> None:
    """This server's outbound address, for the IP whitelist: given, named by WeChat, echoed, or the route's."""
    click.echo("\nIP whitelist (设置与开发 → 基本配置 → IP白名单): this server's outbound address")
    if given:
        for address in given:
            click.echo(f"  {address}   (given with --outbound-ip)")
        return
    if refused:
        click.echo(f"  {refused}   (as WeChat saw this server when it refused the token)")
        return
    if echo_url:
        try:
            answer = requests.get(echo_url, timeout=5)
            answer.raise_for_status()
            address = str(ipaddress.ip_address(answer.text.strip()))
        except (requests.RequestException, ValueError) as exc:
            findings.problem(f"{echo_url} did not answer with an address: {type(exc).__name__}")
        else:
            click.echo(f"  {address}   (as {echo_url} saw this server)")
            return
    local = _route_address(settings.wechat_api_base_url)
    if local is None:
        findings.note("this machine has no route to WeChat's API; pass --outbound-ip.")
        return
    click.echo(f"  {local}   (this machine's own address toward WeChat's API)")
    if not ipaddress.ip_address(local).is_global:
        findings.note(f"{local} is not a public address: WeChat sees the public address of the NAT or proxy in "
                      "front. Ask the network administrator, or pass --ip-echo-url with a service that echoes the "
                      "caller's address. Once a whitelist is set, a refused token names the address WeChat saw.")


def _route_address(api_base_url: str) -> str | None:
    """The local address the route to WeChat's API leaves from (a UDP connect sends no packet)."""
    url = urlparse(api_base_url)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((socket.gethostbyname(url.hostname or ""), url.port or 443))
            return sock.getsockname()[0]
    except OSError:
        return None


def verify_server(target: Target, findings: Findings) -> None:
    """Ask the account's webhook what WeChat asks when the server configuration is submitted."""
    timestamp, nonce, echostr = str(int(time.time())), uuid.uuid4().hex[:10], uuid.uuid4().hex
    signer = WeChatSigner()
    signer.add_data(target.token, timestamp, nonce)
    url = target.webhook_url
    try:
        answer = requests.get(url, params={"signature": signer.signature, "timestamp": timestamp, "nonce": nonce,
                                           "echostr": echostr}, timeout=5)
    except requests.RequestException as exc:
        findings.problem(f"{url} cannot be reached from here ({type(exc).__name__}): is the web service up, and "
                         "PUBLIC_BASE_URL right?")
        return
    if answer.status_code == 200 and answer.text == echostr:
        findings.ok(f"{url} answers WeChat's verification with this account's token (checked from this machine)")
    elif answer.status_code == 403:
        findings.problem(f"{url} refused the signature: the web service knows this account with another token "
                         "(or a clock far off).")
    else:
        findings.problem(f"{url} answered HTTP {answer.status_code} instead of WeChat's echo: is it this service?")
