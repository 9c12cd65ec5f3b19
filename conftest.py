"""Root pytest configuration: notebooks run under nbval use tiny params and a temporary dataset folder."""

import os
import tempfile

os.environ.setdefault("SAAS_SYNTH_PARAMS", "params/tiny.yaml")
os.environ.setdefault("SAAS_SYNTH_DATA_DIR", tempfile.mkdtemp(prefix="saas-synth-nbval-"))
