"""Action items: the assignee marks them done (they are listed on the home page)."""

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.actions import bp, services
from proving_ground.actions.models import ActionItem
from proving_ground.db import db


@bp.route("/actions/<int:item_id>/done", methods=["POST"])
@roles_required(ANY_ROLE)
def done(item_id: int):
    item = db.get_or_404(ActionItem, item_id)
    allowed = {item.assignee_id, item.created_by_id}
    if current_user.id not in allowed and not current_user.has_role(Role.ADMIN):
        abort(403)
    services.complete(item, actor=current_user)
    flash(_("Marked as done: %(title)s", title=item.title), "success")
    return redirect(url_for("core.home"))
