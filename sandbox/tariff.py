"""The price of one SMS part, and what a message costs in AT's notation."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Tariff:
    """A currency and the price of one part in it."""

    currency: str
    unit: Decimal

    @classmethod
    def parse(cls, text: str) -> "Tariff":
        """Read a tariff written as AT writes costs, e.g. "XOF 25.0000"."""
        currency, _, amount = text.strip().partition(" ")
        try:
            unit = Decimal(amount.strip())
        except InvalidOperation:
            raise ValueError(f"not a price like 'XOF 25.0000': {text!r}") from None
        if len(currency) != 3 or not currency.isalpha() or not unit.is_finite() or unit < 0:
            raise ValueError(f"not a price like 'XOF 25.0000': {text!r}")
        return cls(currency.upper(), unit)

    def price(self, amount: Decimal) -> str:
        """Write an amount the way AT does: currency, space, four decimals."""
        return f"{self.currency} {amount:.4f}"

    def cost(self, parts: int) -> Decimal:
        """Return what parts parts cost."""
        return self.unit * parts
