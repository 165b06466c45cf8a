// Restarting the server: serialised (never two servers at once, or the client's command
// registrations collide), coalesced (a burst of setting changes gives one restart) and, after
// crashes, backed off and bounded (no endless crash loop).

/**
 * Runs `task` for restart requests, one at a time. Requests arriving within `debounceMs` of each
 * other, or while a run is in progress, are served by a single further run. Each request's
 * promise resolves when a run that started after the request has finished.
 */
export class SerialRestarter {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private again = false;
  private waiters: (() => void)[] = [];
  private reasons: string[] = [];
  private disposed = false;

  constructor(
    private readonly task: (reason: string) => Promise<void>,
    private readonly debounceMs: number,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  request(reason: string): Promise<void> {
    if (this.disposed) {
      return Promise.resolve();
    }
    if (!this.reasons.includes(reason)) {
      this.reasons.push(reason);
    }
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.running) {
      this.again = true;
    } else {
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
      }
      this.timer = setTimeout(() => void this.loop(), this.debounceMs);
    }
    return done;
  }

  /** True while a run is in progress or scheduled. */
  get busy(): boolean {
    return this.running || this.timer !== undefined;
  }

  private async loop(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    try {
      do {
        this.again = false;
        const waiters = this.waiters.splice(0);
        const reason = this.reasons.splice(0).join(", ");
        try {
          await this.task(reason);
        } catch (e) {
          this.onError(e);
        }
        waiters.forEach((w) => w());
      } while (this.runAgain());
    } finally {
      this.running = false;
      // Disposed mid-run: release anyone still waiting.
      this.waiters.splice(0).forEach((w) => w());
    }
  }

  /** Read after the awaited task: requests may have arrived, or dispose() run, meanwhile. */
  private runAgain(): boolean {
    return this.again && !this.disposed;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.running) {
      this.waiters.splice(0).forEach((w) => w());
    }
  }
}

export type CrashDecision = { restart: true; delayMs: number } | { restart: false; crashes: number };

/**
 * Decides what to do when the server process dies: restart after a growing delay
 * (1 s, 2 s, 4 s… capped), until `maxCrashes` crashes fall within `windowMs` — then give up
 * and let the user decide (Show Logs, Restart Server).
 */
export class CrashBackoff {
  private crashes: number[] = [];

  constructor(
    private readonly maxCrashes = 4,
    private readonly windowMs = 3 * 60_000,
    private readonly baseDelayMs = 1_000,
    private readonly maxDelayMs = 30_000,
  ) {}

  onCrash(now: number): CrashDecision {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    const n = this.crashes.length;
    if (n >= this.maxCrashes) {
      return { restart: false, crashes: n };
    }
    return { restart: true, delayMs: Math.min(this.baseDelayMs * 2 ** (n - 1), this.maxDelayMs) };
  }

  /** A restart the user asked for starts with a clean slate. */
  reset(): void {
    this.crashes = [];
  }
}
