"Shared pytest fixtures and paths."
import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get('REFLECTDIFFU_MIRROR', ROOT.parent/'shared'/'data'))

@pytest.fixture
def root():
    "The repository root."
    return ROOT
