"""`hubbub serve`'s options for the native push services (APNs, FCM), and their checks:
a provider is on only when its credentials are all given; a partial or contradictory set
is a usage error naming the option, never a traceback."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hubbub.adapters.push.apns import PRODUCTION_URL, SANDBOX_URL
from hubbub.adapters.push.fcm import FCM_URL
from hubbub.app import ApnsConfig, FcmConfig

F = TypeVar("F", bound=Callable[..., Any])
APPLE_ID = re.compile(r"^[A-Z0-9]{10}$")  # Apple's key ids and team ids

_OPTIONS = [
    click.option(
        "--apns-key-file",
        default=None,
        envvar="HUBBUB_APNS_KEY_FILE",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="APNs token-based auth: the .p8 signing key from the Apple Developer account. "
        "With --apns-key-id and --apns-team-id, turns APNs on.",
    ),
    click.option(
        "--apns-key-id",
        default=None,
        envvar="HUBBUB_APNS_KEY_ID",
        help="The signing key's 10-character Key ID.",
    ),
    click.option(
        "--apns-team-id",
        default=None,
        envvar="HUBBUB_APNS_TEAM_ID",
        help="The 10-character Team ID the key belongs to.",
    ),
    click.option(
        "--apns-sandbox",
        is_flag=True,
        default=False,
        envvar="HUBBUB_APNS_SANDBOX",
        help="Push to APNs' development environment (apps built for development).",
    ),
    click.option(
        "--apns-url",
        default=None,
        envvar="HUBBUB_APNS_URL",
        help="Another APNs base URL (https://host:port): a test or on-premises stand-in.",
    ),
    click.option(
        "--fcm-service-account-file",
        default=None,
        envvar="HUBBUB_FCM_SERVICE_ACCOUNT_FILE",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="FCM HTTP v1: the Firebase project's service account key (JSON). Turns FCM on.",
    ),
    click.option(
        "--fcm-url",
        default=None,
        envvar="HUBBUB_FCM_URL",
        help="Another FCM base URL (https://host:port) for messages:send: a test stand-in "
        "(the token endpoint is the key file's token_uri).",
    ),
]


def push_service_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def apns_config(o: dict[str, Any]) -> ApnsConfig | None:
    given = {
        "--apns-key-file": o["apns_key_file"],
        "--apns-key-id": o["apns_key_id"],
        "--apns-team-id": o["apns_team_id"],
    }
    if not any(given.values()):
        if o["apns_sandbox"] or o["apns_url"]:
            raise click.BadParameter(
                "needs --apns-key-file, --apns-key-id and --apns-team-id",
                param_hint="--apns-sandbox" if o["apns_sandbox"] else "--apns-url",
            )
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise click.UsageError(f"APNs needs {', '.join(missing)} too (or none of the three)")
    for name in ("--apns-key-id", "--apns-team-id"):
        if not APPLE_ID.fullmatch(given[name]):
            raise click.BadParameter("10 capital letters or digits", param_hint=name)
    if o["apns_sandbox"] and o["apns_url"]:
        raise click.BadParameter("give --apns-sandbox or --apns-url, not both",
                                 param_hint="--apns-url")  # fmt: skip
    url = o["apns_url"] or (SANDBOX_URL if o["apns_sandbox"] else PRODUCTION_URL)
    if not url.startswith("https://"):
        raise click.BadParameter("an https:// URL (APNs is HTTP/2 over TLS)",
                                 param_hint="--apns-url")  # fmt: skip
    return ApnsConfig(given["--apns-key-file"], given["--apns-key-id"],
                      given["--apns-team-id"], url)  # fmt: skip


def fcm_config(o: dict[str, Any]) -> FcmConfig | None:
    if not o["fcm_service_account_file"]:
        if o["fcm_url"]:
            raise click.BadParameter("needs --fcm-service-account-file", param_hint="--fcm-url")
        return None
    url = o["fcm_url"] or FCM_URL
    if not url.startswith("https://"):
        raise click.BadParameter("an https:// URL", param_hint="--fcm-url")
    return FcmConfig(o["fcm_service_account_file"], url)
