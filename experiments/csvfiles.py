"""Reading the CSV files managers export from their CRM or Excel."""

import io

import pandas as pd


def read_csv(data: bytes) -> pd.DataFrame:
    """Parse a CSV export (UTF-8, with or without BOM, or GB18030 as Excel in
    Chinese Windows writes it); every cell stays text."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ValueError("undecodable")
    frame = pd.read_csv(
        io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
    )
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame
