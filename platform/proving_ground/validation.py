"""The exception services raise when input breaks a rule, naming each bad field.

The API turns it into the standard error shape (422, or 409 for a conflict with
stored data); pages put the messages next to the form fields.
"""


class Invalid(Exception):
    def __init__(
        self,
        fields: dict[str, list[str]] | str,
        message: str | None = None,
        *,
        status: int = 422,
    ):
        if isinstance(fields, str):  # Invalid("field", "problem")
            fields = {fields: [message or ""]}
        self.fields = fields
        self.status = status
        self.message = message or next(iter(fields.values()))[0]
        super().__init__(self.message)

    @property
    def name(self) -> str:
        return "Conflict" if self.status == 409 else "Invalid input"


class Problems:
    """Collects problems per field, then raises them all at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(str(message))

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self, message: str | None = None, *, status: int = 422) -> None:
        if self.fields:
            raise Invalid(dict(self.fields), message, status=status)
