"""Bilingual demo data: users of every role, then whatever the pillars add."""

from collections.abc import Callable

from flask import current_app

from proving_ground.auth import services as auth_services
from proving_ground.auth.models import User
from proving_ground.signals import demo_data_loaded, demo_data_requested

#: The first entry is the administrator that ``make run`` prints.
DEMO_USERS = [
    {
        "email": "admin@demo.proving-ground.cn",
        "display_name": "陈静 Chen Jing",
        "roles": ["admin"],
        "team": "平台运营 Platform",
        "region": "总部 HQ",
        "locale": "zh_CN",
    },
    {
        "email": "hr@demo.proving-ground.cn",
        "display_name": "王芳 Wang Fang",
        "roles": ["hr"],
        "team": "人力资源 HR",
        "region": "总部 HQ",
        "locale": "zh_CN",
    },
    {
        "email": "manager.east@demo.proving-ground.cn",
        "display_name": "李强 Li Qiang",
        "roles": ["manager"],
        "team": "华东大客户部 East Key Accounts",
        "region": "华东 East China",
        "locale": "zh_CN",
    },
    {
        "email": "manager.south@demo.proving-ground.cn",
        "display_name": "Emily Zhou 周敏",
        "roles": ["manager", "member"],
        "team": "华南渠道部 South Channels",
        "region": "华南 South China",
        "locale": "en",
    },
    {
        "email": "rep.zhang@demo.proving-ground.cn",
        "display_name": "张伟 Zhang Wei",
        "roles": ["member"],
        "team": "华东大客户部 East Key Accounts",
        "region": "华东 East China",
        "locale": "zh_CN",
    },
    {
        "email": "rep.liu@demo.proving-ground.cn",
        "display_name": "Liu Yang 刘洋",
        "roles": ["member"],
        "team": "华南渠道部 South Channels",
        "region": "华南 South China",
        "locale": "en",
    },
]


def load(progress: Callable[[str], None] = lambda _label: None) -> int:
    """Create the demo records that are missing; returns how many were created.

    The caller commits. Demo users share ``DEMO_PASSWORD``: demo data is for a local
    machine, never for production.
    """
    created = 0
    users: dict[str, User] = {}
    progress("users")
    for spec in DEMO_USERS:
        user = auth_services.get_user_by_email(spec["email"])
        if user is None:
            user = auth_services.create_user(
                password=current_app.config["DEMO_PASSWORD"],
                check_password=False,
                **spec,
            )
            created += 1
        users[user.email] = user
    app = current_app._get_current_object()
    for signal in (demo_data_requested, demo_data_loaded):
        for _receiver, result in signal.send(app, users=users, progress=progress):
            created += int(result or 0)
    return created
