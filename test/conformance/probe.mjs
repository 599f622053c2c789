// Waits until an MCP endpoint serves at least WANT tools over MCP (tools/list, following
// nextCursor). The aggregator reports a backend available on /status a moment before it
// publishes that backend's catalog to MCP sessions; the suite must not start in between.
//
// Usage: node probe.mjs URL WANT TIMEOUT_SECONDS   (prints the number of tools served)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, want, timeoutSeconds] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutSeconds) * 1000;
let served = -1;
let lastError;
while (Date.now() < deadline) {
  const client = new Client({ name: 'vmcp-conformance-probe', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    served = 0;
    let cursor;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      served += page.tools.length;
      cursor = page.nextCursor;
    } while (cursor);
    if (served >= Number(want)) {
      console.log(served);
      await client.close();
      process.exit(0);
    }
  } catch (err) {
    lastError = err;
  }
  await client.close().catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 200));
}
console.error(`probe: ${served} tools served at ${url}, wanted ${want}${lastError ? `: ${lastError.message}` : ''}`);
process.exit(1);
