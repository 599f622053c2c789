// Waits until the aggregator's admin endpoint answers /readyz 200 and /status shows WANT
// backends available (Healthy or Degraded) with their tools counted. Replaces curl and jq, so
// the conformance run needs nothing the repo does not install.
//
// Usage: node ready.mjs ADMIN_URL WANT TIMEOUT_SECONDS PID
// Prints "AVAILABLE TOOLS" (the last seen counts, also on failure). Exits 0 when ready, 1 on
// timeout, 3 when process PID (the aggregator) is gone.
const [base, want, timeoutSeconds, pid] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutSeconds) * 1000;
let available = 0;
let tools = 0;
let lastError;

function alive() {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

async function get(path) {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) {
    throw new Error(`${path}: HTTP ${res.status}`);
  }
  return res;
}

for (;;) {
  try {
    await get('/readyz');
    const status = await (await get('/status')).json();
    available = (status.backends ?? []).filter(
      (b) => (b.health === 'Healthy' || b.health === 'Degraded') && b.tools > 0,
    ).length;
    tools = status.summary?.tools ?? 0;
    if (available === Number(want)) {
      console.log(available, tools);
      process.exit(0);
    }
    lastError = undefined;
  } catch (err) {
    lastError = err;
  }
  if (!alive()) {
    console.log(available, tools);
    process.exit(3);
  }
  if (Date.now() >= deadline) {
    console.log(available, tools);
    console.error(`ready: ${available}/${want} backends available at ${base}${lastError ? `: ${lastError.message}` : ''}`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}
