"""Password hashing: the dummy hash that hides which accounts exist costs nothing at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

COUNT_HASHES = """
import argon2

made = []
real_hash = argon2.PasswordHasher.hash


def counted(self, password, *args, **kwargs):
    made.append(password)
    return real_hash(self, password, *args, **kwargs)


argon2.PasswordHasher.hash = counted

import crm.auth.passwords as passwords
import crm.auth.service

print(len(made))
dummy = passwords.dummy_hash()
assert passwords.dummy_hash() == dummy
assert dummy.startswith("$argon2")
assert not passwords.verify_password(dummy, "")
print(len(made))
"""


def test_importing_the_password_module_computes_no_hash():
    done = subprocess.run(
        [sys.executable, "-c", COUNT_HASHES],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    at_import, after_use = done.stdout.split()
    assert at_import == "0"
    assert after_use == "1"
