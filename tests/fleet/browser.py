# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Open an HTML file in a real browser: Debian's chromium, headless.

open_page(path) loads the file, waits until the page and everything it asked for has
loaded or failed, and returns the rendered DOM, a full-page PNG screenshot and every load
error. It drives chromium over the DevTools protocol on a pipe (--remote-debugging-pipe:
NUL-separated JSON on file descriptors 3 and 4), so it needs nothing but the standard library,
and it sees failures as the browser reports them, not by parsing log text:

- Network.loadingFailed: a request that failed (net::ERR_FILE_NOT_FOUND, an unreachable host)
  or was blocked (blockedReason "csp", "mixed-content", ...);
- Network.responseReceived with an HTTP status of 400 or more;
- Log.entryAdded of level error (the browser's own console messages: CSP violations,
  "Failed to load resource");
- Runtime.exceptionThrown and console.error() of scripts;
- after the load: <img> elements that did not decode, stylesheets that did not apply.

Only requests made after the page was opened are seen; the page is opened on about:blank
first, with the domains enabled, and then navigated.
"""

import base64
import html.parser
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections import namedtuple

Page = namedtuple('Page', 'screenshot dom errors')

INSTALL_HINT = 'chromium is not installed: run tests/install (it installs Debian\'s chromium package)'
# What the page itself cannot hide: images that did not decode and stylesheets that did not apply.
DOM_CHECK = r'''(() => {
  const out = [];
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) out.push('image did not load: ' + (img.currentSrc || img.src));
  }
  for (const link of document.querySelectorAll('link[rel~="stylesheet"]')) {
    if (!link.sheet) out.push('stylesheet did not load: ' + link.href);
  }
  return out;
})()'''


class BrowserError(RuntimeError):
    pass


def chromium_path():
    """The chromium program, or a BrowserError that says how to install it."""
    for name in ('chromium', 'chromium-browser'):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError(INSTALL_HINT)


class _Pipe:
    """DevTools protocol over chromium's --remote-debugging-pipe."""

    def __init__(self, proc, write_fd, read_fd, deadline):
        self.proc, self.write_fd, self.read_fd, self.deadline = proc, write_fd, read_fd, deadline
        self.buf = b''
        self.events = []
        self.next_id = 0

    def _read_message(self):
        while b'\0' not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BrowserError('chromium did not answer in time')
            ready, _w, _x = select.select([self.read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise BrowserError('chromium closed the DevTools pipe (exit status %s)' % self.proc.poll())
            self.buf += chunk
        raw, self.buf = self.buf.split(b'\0', 1)
        return json.loads(raw)

    def send(self, method, session=None, **params):
        """The result of one command; events that arrive meanwhile are kept in self.events."""
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params}
        if session:
            msg['sessionId'] = session
        data = json.dumps(msg).encode() + b'\0'
        while data:
            data = data[os.write(self.write_fd, data):]
        while True:
            reply = self._read_message()
            if reply.get('id') == self.next_id:
                if 'error' in reply:
                    raise BrowserError('%s: %s' % (method, reply['error'].get('message')))
                return reply.get('result', {})
            if 'method' in reply:
                self.events.append(reply)

    def wait_for(self, predicate, until):
        """Read events until predicate(events) holds or the monotonic time `until` passes."""
        while not predicate(self.events):
            left = min(until, self.deadline) - time.monotonic()
            if left <= 0:
                return False
            ready, _w, _x = select.select([self.read_fd], [], [], left)
            if ready:
                chunk = os.read(self.read_fd, 1 << 20)
                if not chunk:
                    raise BrowserError('chromium closed the DevTools pipe (exit status %s)' % self.proc.poll())
                self.buf += chunk
                while b'\0' in self.buf:
                    raw, self.buf = self.buf.split(b'\0', 1)
                    msg = json.loads(raw)
                    if 'method' in msg:
                        self.events.append(msg)
        return True


def _launch(program, width, height, profile):
    # The pipe ends chromium uses must be its descriptors 3 (commands in) and 4 (replies out).
    cmd_r, cmd_w = os.pipe()
    out_r, out_w = os.pipe()
    high_r = os.dup(cmd_r)
    high_w = os.dup(out_w)
    for fd in (cmd_r, out_w):
        os.close(fd)

    def child_fds():
        os.dup2(high_r, 3)
        os.dup2(high_w, 4)

    args = [program, '--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe',
            '--window-size=%d,%d' % (width, height), '--user-data-dir=%s' % profile, '--no-first-run',
            '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--mute-audio', '--hide-scrollbars',
            'about:blank']
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, pass_fds=(3, 4), preexec_fn=child_fds)
    finally:
        os.close(high_r)
        os.close(high_w)
    return proc, cmd_w, out_r


def _errors(events, dom_errors):
    errors = []
    for ev in events:
        method, p = ev.get('method'), ev.get('params', {})
        if method == 'Network.loadingFailed':
            errors.append('request failed: %s %s%s' % (
                p.get('_url', '?'), p.get('errorText', ''),
                ' (blocked: %s)' % p['blockedReason'] if p.get('blockedReason') else ''))
        elif method == 'Network.responseReceived' and p.get('response', {}).get('status', 0) >= 400:
            errors.append('HTTP %s: %s' % (p['response']['status'], p['response'].get('url')))
        elif method == 'Log.entryAdded' and p.get('entry', {}).get('level') == 'error':
            e = p['entry']
            errors.append('console (%s): %s%s' % (e.get('source'), e.get('text'), ' [%s]' % e['url'] if e.get('url') else ''))
        elif method == 'Runtime.exceptionThrown':
            d = p.get('exceptionDetails', {})
            errors.append('script exception: %s' % (d.get('exception', {}).get('description') or d.get('text')))
        elif method == 'Runtime.consoleAPICalled' and p.get('type') == 'error':
            errors.append('console.error: %s' % ' '.join(str(a.get('value', a.get('description'))) for a in p.get('args', [])))
    return errors + list(dom_errors)


def open_page(html_path, screenshot_path=None, width=1280, height=2000, timeout=30, settle=0.3, max_height=16000):
    """Load `html_path` in headless chromium; Page(screenshot, dom, errors).

    screenshot: the PNG written (default: next to the HTML file, .png instead of .html), the
    whole page at `width` CSS pixels; dom: document.documentElement.outerHTML after the load;
    errors: every resource that failed or was blocked, console errors, script exceptions
    (an empty list when everything loaded). `settle`: seconds without network activity after
    the load event before the page counts as done. Pages taller than `max_height` CSS pixels are
    cut there in the screenshot (the DOM has all of it)."""
    program = chromium_path()
    html_path = os.path.abspath(html_path)
    if not os.path.isfile(html_path):
        raise BrowserError('no such file: %s' % html_path)
    if screenshot_path is None:
        screenshot_path = os.path.splitext(html_path)[0] + '.png'
    profile = tempfile.mkdtemp(prefix='lvs-chromium-')
    proc = None
    try:
        proc, write_fd, read_fd = _launch(program, width, height, profile)
        try:
            pipe = _Pipe(proc, write_fd, read_fd, time.monotonic() + timeout)
            target = pipe.send('Target.createTarget', url='about:blank')['targetId']
            session = pipe.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
            for domain in ('Page', 'Network', 'Log', 'Runtime'):
                pipe.send(domain + '.enable', session)
            pipe.send('Emulation.setDeviceMetricsOverride', session, width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
            pipe.events.clear()
            nav = pipe.send('Page.navigate', session, url='file://' + html_path)
            if nav.get('errorText'):
                raise BrowserError('could not open %s: %s' % (html_path, nav['errorText']))
            if not pipe.wait_for(lambda evs: any(e.get('method') == 'Page.loadEventFired' for e in evs),
                                 time.monotonic() + timeout):
                raise BrowserError('%s did not finish loading in %d s' % (html_path, timeout))
            # Requests still running after the load event (none for a self-contained page): wait
            # until all have ended and nothing happened for `settle` seconds.
            while True:
                count = len(pipe.events)
                pipe.wait_for(lambda evs, n=count: len(evs) > n, time.monotonic() + settle)
                if (len(pipe.events) == count and not _pending(pipe.events)) or time.monotonic() >= pipe.deadline:
                    break
            dom_errors = pipe.send('Runtime.evaluate', session, expression=DOM_CHECK,
                                   returnByValue=True)['result'].get('value') or []
            dom = pipe.send('Runtime.evaluate', session, expression='document.documentElement.outerHTML',
                            returnByValue=True)['result']['value']
            size = pipe.send('Page.getLayoutMetrics', session)['cssContentSize']
            shot = pipe.send('Page.captureScreenshot', session, format='png', captureBeyondViewport=True,
                             clip={'x': 0, 'y': 0, 'width': width, 'height': min(max(size['height'], 1), max_height),
                                   'scale': 1})
            with open(screenshot_path, 'wb') as f:
                f.write(base64.b64decode(shot['data']))
            _label_failures(pipe.events)
            errors = _errors(pipe.events, dom_errors)
            urls = _request_urls(pipe.events)
            errors += ['request did not finish in %d s: %s' % (timeout, urls.get(r, '?')) for r in sorted(_pending(pipe.events))]
            try:
                pipe.send('Browser.close')
            except BrowserError:
                pass
        finally:
            os.close(write_fd)
            os.close(read_fd)
    finally:
        if proc is not None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return Page(screenshot_path, dom, errors)


def _pending(events):
    started = set()
    for ev in events:
        method, p = ev.get('method'), ev.get('params', {})
        if method == 'Network.requestWillBeSent':
            started.add(p.get('requestId'))
        elif method in ('Network.loadingFinished', 'Network.loadingFailed'):
            started.discard(p.get('requestId'))
    return started


def _request_urls(events):
    return dict((ev['params'].get('requestId'), ev['params'].get('request', {}).get('url'))
                for ev in events if ev.get('method') == 'Network.requestWillBeSent')


def _label_failures(events):
    """Give each loadingFailed event the URL of its request (the event has only the request's id)."""
    urls = _request_urls(events)
    for ev in events:
        if ev.get('method') == 'Network.loadingFailed':
            ev['params']['_url'] = urls.get(ev['params'].get('requestId'), '?')


class Elements(html.parser.HTMLParser):
    """Every element's tag and attributes, and the page's text."""

    def __init__(self, text):
        super().__init__()
        self.elements = []
        self.text = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, cls):
        return [a for t, a in self.elements if t == tag and cls in (a.get('class') or '').split()]


if __name__ == '__main__':
    import sys
    page = open_page(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    print('screenshot: %s' % page.screenshot)
    print('DOM: %d characters' % len(page.dom))
    print('errors:\n  ' + '\n  '.join(page.errors) if page.errors else 'errors: none')
    sys.exit(1 if page.errors else 0)
