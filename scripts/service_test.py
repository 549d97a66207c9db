#!/usr/bin/env python3
"""The service end to end, as its users see it (make test-service):

1. the web console in headless Chromium (Debian's chromium, driven by playwright): load the
   referral queue, open a case, see its evidence highlighted, record a call result and see the
   state change and the history name the token; the "try a text" page shows highlighted evidence
   and the points table; the rules page lists the categories;
2. schemathesis against docs/openapi.yaml: generated requests to every operation, no 500s.

Starts `fanzha serve` (the release build unless FANZHA is set) on a free loopback port with a
tokens file and a referral database of its own. Prints `N passed, N failed`; exit 1 on a failure.
"""
import json, os, re, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FANZHA = os.environ.get("FANZHA", os.path.join(ROOT, ".build/release/fanzha"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TOKENS = {"desk": "console-test-dispatch-0001", "gateway": "console-test-screen-00001", "boss": "console-test-admin-000001"}

passed, failed = 0, 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def start(tmp):
    tokens = os.path.join(tmp, "tokens")
    with open(tokens, "w") as f:
        f.write(f"desk dispatch {TOKENS['desk']}\ngateway screen {TOKENS['gateway']}\nboss admin,screen,dispatch {TOKENS['boss']}\n")
    proc = subprocess.Popen([FANZHA, "serve", "--port", "0", "--tokens", tokens, "--referrals", os.path.join(tmp, "cases.db"),
                             "--subject-field", "to"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.time() + 120
    while time.time() < deadline and port is None:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"on http://127\.0\.0\.1:(\d+) ", line)
        if m:
            port = int(m.group(1))
    if port is None:
        proc.kill()
        sys.exit("service_test: fanzha serve did not start")
    return proc, port


def request(port, method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body, ensure_ascii=False).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, dict(r.headers), json.loads(r.read() or b"null")


def console(port):
    from playwright.sync_api import sync_playwright, expect
    scam = "我是市公安局刑警，你名下的银行卡涉嫌洗钱，请把钱转到安全账户配合调查"
    _, headers, _ = request(port, "POST", "/v1/scan?refer=1", [
        {"id": "m-1", "to": "13800000011", "text": scam},
        {"id": "m-2", "to": "13800000012", "text": "您的快递需要补缴运费5元，请点击链接 http://x.example/pay 填写银行卡"},
    ], TOKENS["gateway"])
    case_id = headers.get("Fanzha-Cases", "").split(",")[0]
    check("scan?refer=1 opened a case", case_id.isdigit(), headers.get("Fanzha-Cases"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844})   # a phone
        page.goto(f"http://127.0.0.1:{port}/console/")
        page.fill("#token", TOKENS["desk"])
        page.click("#token-form button")
        row = page.locator(f'li[data-case="{case_id}"]')
        row.wait_for(timeout=10000)
        check("queue lists the case under its tier", row.locator("xpath=ancestor::section").get_attribute("data-tier") == "high")
        check("queue shows a countdown", re.search(r"(剩余|已超时) ", row.locator(".countdown").inner_text()) is not None)
        row.locator("a").click()
        page.locator("#case-state").wait_for(timeout=10000)
        marks = page.locator(".marked mark").all_inner_texts()
        check("case page highlights the evidence", any("安全账户" in m for m in marks), marks)
        check("case page starts new", page.inner_text("#case-state") == "新建")
        # (The console's Content-Security-Policy forbids eval: waits use locators, not page functions.)
        page.click('button[data-step="claim"]')
        expect(page.locator("#case-state")).to_have_text("拨打中", timeout=10000)
        page.click('button[data-step="call --result reached"]')
        expect(page.locator("#case-state")).to_have_text("已接通", timeout=10000)
        check("recording a call result changes the state", page.inner_text("#case-state") == "已接通")
        history = page.inner_text("#history")
        check("the history names the token", "desk" in history and "电话" in history, history[:200])
        # The desk's token has no screen role: the try page says so; an analyst's token works.
        page.goto(f"http://127.0.0.1:{port}/console/#/try")
        page.fill("#input", scam)
        page.click("#run")
        expect(page.locator("#result")).not_to_have_text("检测中…", timeout=30000)
        check("try page with a dispatch token: 403 shown", "403" in page.inner_text("#result"))
        page.fill("#token", TOKENS["boss"])
        page.click("#token-form button")
        page.fill("#input", scam)
        page.click("#run")
        expect(page.locator("#result")).not_to_have_text("检测中…", timeout=30000)
        check("try page answers", page.locator("#marked").count() == 1, page.inner_text("#result")[:300])
        check("try page highlights evidence", any("安全账户" in m for m in page.locator("#marked mark").all_inner_texts()))
        check("try page shows the points table", "police.safe_account" in page.inner_text("#result table"))
        page.goto(f"http://127.0.0.1:{port}/console/#/rules")
        page.locator("#rules table").first.wait_for(timeout=10000)
        check("rules page lists categories", "police" in page.inner_text("#rules"))
        browser.close()


def schemathesis(port):
    out = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", os.path.join(ROOT, "docs/openapi.yaml"),
                          "--url", f"http://127.0.0.1:{port}", "--header", "Authorization: Bearer " + TOKENS["boss"],
                          "--checks", "not_a_server_error", "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "25"),
                          "--exclude-path", "/v1/rules/reload", "--seed", "1"],
                         capture_output=True, text=True, timeout=900)
    tail = "\n".join(out.stdout.splitlines()[-15:])
    check("schemathesis: no server errors", out.returncode == 0, "\n" + tail + out.stderr[-2000:])


def main():
    if not os.access(FANZHA, os.X_OK):
        sys.exit(f"service_test: no {FANZHA} (swift build -c release)")
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start(tmp)
        try:
            for part in (console, schemathesis):
                try:
                    part(port)
                except Exception as e:   # a step that timed out or found nothing: a failure, and go on
                    check(part.__name__, False, repr(e)[:2000])
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        check("SIGTERM: clean exit", proc.returncode == 0, proc.returncode)
    print(f"service: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
