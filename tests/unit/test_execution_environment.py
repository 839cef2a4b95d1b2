# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""An execution environment built with ansible-builder gets this collection's
requirements (meta/execution-environment.yml, requirements.txt, bindep.txt).

`ansible-builder create` writes the build context without a container engine:
the Containerfile, the collection tarball and ansible-builder's own scripts. The
collection's requirements are read only later, inside the build, by the context's
introspect.py after `ansible-galaxy collection install`. This test does both halves
here: it creates the context for an EE that installs the collection from its built
tarball, then installs that very tarball as the galaxy stage would and runs the
context's introspect.py and bindep on it, as the builder stage would."""

import filecmp
import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
COLLECTIONS = '/usr/share/ansible/collections'   # where the EE's galaxy stage installs collections


def run(*argv, **kw):
    """Run a tool of this venv; its stdout, or the test fails with its output."""
    exe = os.path.join(BIN, argv[0])
    assert os.path.exists(exe), '%s is missing from %s: run tests/install (tests/requirements.txt)' % (argv[0], BIN)
    p = subprocess.run([exe] + list(argv[1:]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120, check=False, **kw)
    assert p.returncode == 0, '%s failed (%d):\n%s' % (' '.join(argv), p.returncode, p.stdout)
    return p.stdout


def requirement_lines(path):
    """The lines of a requirements or bindep file that name something (comments dropped)."""
    with open(path) as f:
        lines = (re.sub(r'(^|\s+)#.*$', '', line).strip() for line in f)
        return [line for line in lines if line]


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """The collection tarball, as ansible-galaxy builds it from this checkout."""
    out = tmp_path_factory.mktemp('build')
    run('ansible-galaxy', 'collection', 'build', '--output-path', str(out), ROOT)
    (tarball,) = out.glob('lvs-ipvs-*.tar.gz')
    return tarball


def test_the_collection_declares_its_requirements():
    with open(os.path.join(ROOT, 'meta', 'execution-environment.yml')) as f:
        meta = yaml.safe_load(f)
    # ansible-builder reads only `dependencies` of a collection's file, paths relative to its root.
    assert meta == {'dependencies': {'python': 'requirements.txt', 'system': 'bindep.txt'}}
    python = requirement_lines(os.path.join(ROOT, 'requirements.txt'))
    assert [re.split(r'[\s<>=!~;\[]', line, maxsplit=1)[0] for line in python] == ['pyroute2']
    system = requirement_lines(os.path.join(ROOT, 'bindep.txt'))
    # Every EE gets modprobe, on either family of base image; a director's packages only on request.
    assert system == ['kmod [platform:dpkg platform:rpm]', 'ipvsadm [platform:dpkg platform:rpm director]',
                      'python3-pyroute2 [platform:dpkg platform:rpm director]']


def test_the_tarball_carries_the_requirement_files(built):
    with tarfile.open(str(built)) as tar:
        names = set(tar.getnames())
        for name in ('meta/execution-environment.yml', 'requirements.txt', 'bindep.txt'):
            assert name in names, '%s is not in the built collection (galaxy.yml build_ignore?)' % name
            with open(os.path.join(ROOT, name), 'rb') as f:
                assert tar.extractfile(name).read() == f.read(), name


def test_ansible_builder_context_installs_the_collection_with_its_requirements(built, tmp_path):
    # 1. The build context of an EE that installs the collection from its tarball.
    ee = {
        'version': 3,
        'images': {'base_image': {'name': 'registry.invalid/ee-minimal:latest'}},   # create pulls nothing
        'dependencies': {
            'ansible_core': {'package_pip': 'ansible-core'},
            'ansible_runner': {'package_pip': 'ansible-runner'},
            'galaxy': {'collections': [{'name': '/build/collections/' + built.name, 'type': 'file'}]},
        },
        'additional_build_files': [{'src': str(built), 'dest': 'collections'}],
    }
    (tmp_path / 'execution-environment.yml').write_text(yaml.safe_dump(ee))
    context = tmp_path / 'context'
    run('ansible-builder', 'create', '--file', 'execution-environment.yml', '--context', str(context),
        '--output-filename', 'Containerfile', cwd=str(tmp_path))
    build = context / '_build'
    assert filecmp.cmp(str(build / 'collections' / built.name), str(built), shallow=False)
    assert yaml.safe_load((build / 'requirements.yml').read_text()) == ee['dependencies']['galaxy']
    containerfile = (context / 'Containerfile').read_text()
    # The galaxy stage installs from /build, where the context's _build lands ...
    assert 'COPY _build /build' in containerfile and '-r requirements.yml --collections-path "%s"' % COLLECTIONS in containerfile
    # ... and the builder stage introspects what it installed, then assembles from the result.
    assert re.search(r'RUN \$PYCMD /output/scripts/introspect.py introspect --write-bindep=(\S+) --write-pip=(\S+)\n', containerfile)
    assert 'RUN /output/scripts/assemble' in containerfile

    # 2. The galaxy stage: install the tarball the context carries.
    installed = tmp_path / 'usr-share-ansible-collections'
    run('ansible-galaxy', 'collection', 'install', '-p', str(installed), str(build / 'collections' / built.name),
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed)))
    assert (installed / 'ansible_collections' / 'lvs' / 'ipvs' / 'MANIFEST.json').exists()

    # 3. The builder stage: the context's own introspect.py on it.
    pip_out, bindep_out = tmp_path / 'requirements.txt', tmp_path / 'bindep.txt'
    report = run('python', str(build / 'scripts' / 'introspect.py'), 'introspect', str(installed),
                 '--write-pip', str(pip_out), '--write-bindep', str(bindep_out))
    data = yaml.safe_load(report.split('---', 1)[1])
    from_us = '  # from collection lvs.ipvs'
    expected_python = [line + from_us for line in requirement_lines(os.path.join(ROOT, 'requirements.txt'))]
    expected_system = [line + from_us for line in requirement_lines(os.path.join(ROOT, 'bindep.txt'))]
    assert data == {'python': expected_python, 'system': expected_system}
    assert any(line.startswith('pyroute2') for line in data['python'])
    assert pip_out.read_text().splitlines() == expected_python
    assert bindep_out.read_text().splitlines() == expected_system

    # 4. assemble's `bindep -l newline` picks what the image gets: kmod, not the director's packages.
    listed = run('bindep', '-f', str(bindep_out), '-l', 'newline').split()
    assert listed == ['kmod']
    assert sorted(run('bindep', '-f', str(bindep_out), '-l', 'newline', 'director').split()) == [
        'ipvsadm', 'kmod', 'python3-pyroute2']
