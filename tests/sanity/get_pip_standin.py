# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stands in for ansible-test's downloaded get-pip script on machines that
cannot reach its host: bootstrap pip with ensurepip, then install what
ansible-test asked for with this machine's own pip configuration (ensurepip
sets PIP_CONFIG_FILE=/dev/null for itself, which would hide it)."""

import os
import subprocess
import sys

env = dict(os.environ)
env.pop('PIP_CONFIG_FILE', None)
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'], env=env)
# --no-setuptools and --no-wheel are get-pip's own switches, not pip's.
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
if args:
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args, env=env)
