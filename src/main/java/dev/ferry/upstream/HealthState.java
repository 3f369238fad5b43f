package dev.ferry.upstream;

import dev.ferry.config.ActiveHealthOptions;
import dev.ferry.config.PassiveHealthOptions;

/**
 * The health of one upstream, free of Vert.x, Netty and any clock so tests drive it directly: every event carries
 * its time, in {@link System#nanoTime()} units and compared by difference (safe across the clock's wrap).
 * <pre>
 *  admin     READY ──drain()──► DRAIN ──ready()──► READY        DRAIN: no new clients; open ones continue
 *
 *  active    UP(fragile) ──1 failed check──────────────► DOWN      (only while active checks are on;
 *  (HAProxy) UP(full) ──fall failed checks in a row────► DOWN       off, an upstream counts as UP)
 *            DOWN ──rise passed checks in a row──► UP(full)
 *            a passed check makes UP full again; a failed check restarts a DOWN upstream's count
 *
 *  passive   OK ──max-fails connect failures in a row──► EJECTED(until now + d(k))
 *            EJECTED ──the clock reaches until──► PROBATION ──1 connect failure──► EJECTED(k+1)
 *            EJECTED or PROBATION ──connect success or passed check──► OK
 *            d(k) = min(max-ejection-time, ejection-time × 2^(k-1))
 * </pre>
 * Invariants:
 * <ul>
 *   <li>{@link #eligible} ⇔ READY ∧ (active off ∨ UP) ∧ ¬ejected at that time; {@link #healthy} is the same without
 *       READY.</li>
 *   <li>UP turns DOWN exactly after {@code fall} consecutive failed checks (1 from the initial fragile UP, which is
 *       HAProxy's default {@code init-state up}: a new upstream gets clients at once, and a dead one is out after
 *       one check). DOWN turns UP exactly after {@code rise} consecutive passed checks. This is HAProxy's health
 *       counter: {@code health} in [0, rise+fall-1], UP iff it reached {@code rise} since the last DOWN.</li>
 *   <li>An ejection starts only on a connect failure that makes the run of failures reach {@code max-fails}, never
 *       while one lasts, never with {@code max-fails} 0; it lasts d(k), within [ejection-time, max-ejection-time].
 *       A failure during an ejection (a panic-mode client, a connect started before it) does not extend it.</li>
 *   <li>An expired ejection leaves the failure run as it was, so the upstream is on probation: like nginx, its first
 *       failed connect ejects it again, for longer. A success or a passed check resets the run and ends any
 *       ejection at once (Envoy's {@code successful_active_health_check_uneject_host}): both prove the upstream
 *       accepts connections, which is all passive health infers. A failed check does not count as a connect
 *       failure: the two detectors stay separate, as in Envoy.</li>
 *   <li>The multiplier k is the ejection's rank in a row. It does not reset on success (an upstream that accepts a
 *       few connects and refuses the next ones keeps growing its ejections) but decays by one for each full
 *       {@code ejection-time} since the last ejection ended, as Envoy decrements it while a host stays
 *       un-ejected.</li>
 * </ul>
 * Threading: not thread-safe; {@link Upstream} serialises the events of one upstream.
 */
public final class HealthState {

  /** The operator's say. */
  public enum Admin { READY, DRAIN }

  /** k stops growing here: ejection-time ≥ 1 ms times 2^31 is beyond any cap. */
  private static final int MAX_LEVEL = 32;

  private Admin admin = Admin.READY;
  // options
  private boolean activeOn;
  private int rise;
  private int fall;
  private int maxFails;
  private long baseNanos;
  private long capNanos;
  // active: HAProxy's counter
  private boolean up = true;
  private int health;
  // passive
  private int failures;
  private boolean ejected;
  private long ejectedUntil;
  private int level;
  private long lastEjectionEnd;
  private long ejections;

  public HealthState(PassiveHealthOptions passive, ActiveHealthOptions active) {
    options(passive, active, 0);
    health = rise;
  }

  /**
   * Applies new options (a reload) and keeps what was learned: the failure run, an ongoing ejection (its end does
   * not move), the active counter: an UP upstream keeps the failed checks it still takes to go down (at most the
   * new fall), a DOWN one its passed checks (at most rise - 1). Turning active checks on starts from the
   * initial fragile UP; turning passive health off ({@code max-fails 0}) ends any ejection, at {@code now}.
   */
  public void options(PassiveHealthOptions passive, ActiveHealthOptions active, long now) {
    settle(now);
    boolean wasOn = activeOn;
    int oldRise = rise;
    activeOn = active.enabled();
    rise = active.rise();
    fall = active.fall();
    maxFails = passive.maxFails();
    baseNanos = passive.ejectionTime().toNanos();
    capNanos = passive.maxEjectionTime().toNanos();
    if (!activeOn || !wasOn) {
      up = true;
      health = rise;
    } else if (up) {
      // Keep the failed checks it still takes to go down (health - rise + 1), at most the new fall.
      health = rise + Math.min(health - oldRise + 1, fall) - 1;
    } else {
      health = Math.min(health, rise - 1);
    }
    if (maxFails == 0 && ejected) {
      ejected = false;
      lastEjectionEnd = now;
    }
  }

  // ---- events -----------------------------------------------------------------------------------------------

  public void drain() {
    admin = Admin.DRAIN;
  }

  public void ready() {
    admin = Admin.READY;
  }

  public void connectFailed(long now) {
    settle(now);
    failures = failures == Integer.MAX_VALUE ? failures : failures + 1;
    if (maxFails > 0 && !ejected && failures >= maxFails) {
      level = Math.min(MAX_LEVEL, decayedLevel(now) + 1);
      ejected = true;
      ejectedUntil = now + ejectionNanos(level, baseNanos, capNanos);
      ejections++;
    }
  }

  public void connectSucceeded(long now) {
    settle(now);
    failures = 0;
    if (ejected) {
      ejected = false;
      lastEjectionEnd = now;
    }
  }

  public void checkPassed(long now) {
    connectSucceeded(now);
    if (!activeOn) {
      return;
    }
    if (up) {
      health = rise + fall - 1;
    } else if (++health >= rise) {
      up = true;
      health = rise + fall - 1;
    }
  }

  public void checkFailed(long now) {
    settle(now);
    if (!activeOn) {
      return;
    }
    if (up && health > rise) {
      health--;
    } else {
      up = false;
      health = 0;
    }
  }

  /** An ejection whose end has passed becomes history: the decay of k counts from its end. */
  private void settle(long now) {
    if (ejected && now - ejectedUntil >= 0) {
      ejected = false;
      lastEjectionEnd = ejectedUntil;
    }
  }

  private int decayedLevel(long now) {
    if (level == 0) {
      return 0;
    }
    long quiet = Math.max(0, now - lastEjectionEnd);
    long steps = quiet / baseNanos;
    return steps >= level ? 0 : level - (int) steps;
  }

  /** min(cap, base × 2^(k-1)) without overflow. */
  static long ejectionNanos(int k, long base, long cap) {
    long d = base;
    for (int i = 1; i < k && d < cap; i++) {
      d = d > cap / 2 ? cap : d * 2;
    }
    return Math.min(d, cap);
  }

  // ---- queries ----------------------------------------------------------------------------------------------

  public Admin admin() {
    return admin;
  }

  public boolean draining() {
    return admin == Admin.DRAIN;
  }

  /** UP by active checks; always true while they are off. */
  public boolean up() {
    return !activeOn || up;
  }

  public boolean ejected(long now) {
    return ejected && now - ejectedUntil < 0;
  }

  /** When the ejection ends (or ended); meaningful while {@link #ejected} is true. */
  public long ejectedUntil() {
    return ejectedUntil;
  }

  public boolean healthy(long now) {
    return up() && !ejected(now);
  }

  public boolean eligible(long now) {
    return admin == Admin.READY && healthy(now);
  }

  /** Connect failures since the last success or passed check. */
  public int consecutiveFailures() {
    return failures;
  }

  /** Ejections since this upstream joined the pool. */
  public long ejections() {
    return ejections;
  }

  /** The rank of the latest ejection in its row (k), before decay. */
  public int level() {
    return level;
  }

  /** HAProxy's check counter, 0..rise+fall-1 (UP from rise up, while active checks are on). */
  public int checkHealth() {
    return health;
  }

  public boolean activeChecks() {
    return activeOn;
  }
}
