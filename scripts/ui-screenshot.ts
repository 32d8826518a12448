/**
 * A look at a page of a running `npm run dev`, logged in, at a phone's and a laptop's width:
 *   node scripts/ui-screenshot.ts http://127.0.0.1:8787/dags out-prefix [username] [password]
 * writes out-prefix-1280.png and out-prefix-390.png.
 */
import { launchBrowser, logIn } from "../test/node/browser.ts";

const [
  url,
  prefix = "/tmp/ui",
  username = process.env.ADMIN_USERNAME ?? "admin",
  password = process.env.ADMIN_PASSWORD ?? "",
] = process.argv.slice(2);
if (!url) {
  console.error("usage: node scripts/ui-screenshot.ts <url> [out-prefix] [username] [password]");
  process.exit(2);
}
const browser = await launchBrowser();
try {
  for (const width of [1280, 390]) {
    const page = await browser.newPage({ viewport: { width, height: width > 500 ? 860 : 844 } });
    await logIn(page, new URL(url).origin, username, password);
    await page.goto(url);
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: `${prefix}-${width}.png`, fullPage: true });
    console.log(`${prefix}-${width}.png`);
    await page.close();
  }
} finally {
  await browser.close();
}
