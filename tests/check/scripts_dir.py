from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"
