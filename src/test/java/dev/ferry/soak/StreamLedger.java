package dev.ferry.soak;

import dev.ferry.support.Peer.Digest;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Both ends of every hash-checked stream, matched by the upstream's token. A stream is checked when a well-behaved
 * client met a well-behaved upstream: echo (the client compares what came back), sink (the upstream's digest of what
 * it received against the client's of what it sent) and source (the reverse). A stream is excluded only when the
 * soak itself broke it on purpose (its backend died under it).
 */
final class StreamLedger {

  /** What the client saw of one checked stream. */
  record ClientEnd(UpstreamBehaviour kind, Digest digest, String error, int clientPort) {
  }

  private final Map<Long, ClientEnd> clientEnds = new ConcurrentHashMap<>();
  private final Map<Long, Digest> upstreamEnds = new ConcurrentHashMap<>();
  private final Map<Long, String> upstreamErrors = new ConcurrentHashMap<>();
  private final Set<Long> killed = ConcurrentHashMap.newKeySet();
  private final AtomicLong echoChecked = new AtomicLong();
  private final List<String> echoMismatches = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final Map<Long, ClientEnd> echoFailures = new ConcurrentHashMap<>();

  /** Outcome of {@link #verify}. */
  record Verdict(long checked, long matched, long excluded, List<String> mismatches, List<Integer> failedClientPorts) {
  }

  void clientEnd(long token, UpstreamBehaviour kind, Digest digest, int clientPort) {
    clientEnds.put(token, new ClientEnd(kind, digest, null, clientPort));
  }

  /** A well-behaved stream failed on the client side (an exception, an early end). */
  void clientFailed(long token, UpstreamBehaviour kind, String error, int clientPort) {
    if (kind == UpstreamBehaviour.ECHO) {
      echoFailures.put(token, new ClientEnd(kind, null, error, clientPort));
    } else {
      clientEnds.put(token, new ClientEnd(kind, null, error, clientPort));
    }
  }

  void echoChecked(long token, boolean matched, String detail, int clientPort) {
    echoChecked.incrementAndGet();
    if (!matched) {
      echoMismatches.add("echo token " + token + " client port " + clientPort + ": " + detail);
    }
  }

  void upstreamEnd(long token, Digest digest) {
    upstreamEnds.put(token, digest);
  }

  void upstreamFailed(long token, String error) {
    upstreamErrors.put(token, error);
  }

  /** The backend of this stream died on purpose: the stream is not expected to complete. */
  void killed(long token) {
    killed.add(token);
  }

  boolean isKilled(long token) {
    return killed.contains(token);
  }

  Verdict verify() {
    long checked = echoChecked.get();
    long matched = checked - echoMismatches.size();
    long excluded = 0;
    List<String> mismatches = new ArrayList<>(echoMismatches);
    List<Integer> ports = new ArrayList<>();
    for (Map.Entry<Long, ClientEnd> e : echoFailures.entrySet()) {
      if (killed.contains(e.getKey())) {
        excluded++;
      } else {
        checked++;
        mismatches.add("echo token " + e.getKey() + " client port " + e.getValue().clientPort() + " failed: "
          + e.getValue().error());
        ports.add(e.getValue().clientPort());
      }
    }
    for (Map.Entry<Long, ClientEnd> e : clientEnds.entrySet()) {
      long token = e.getKey();
      ClientEnd c = e.getValue();
      if (killed.contains(token)) {
        excluded++;
        continue;
      }
      checked++;
      Digest up = upstreamEnds.get(token);
      String what = c.kind() + " token " + token + " client port " + c.clientPort();
      if (c.error() != null) {
        mismatches.add(what + " failed on the client: " + c.error() + upstreamNote(token));
        ports.add(c.clientPort());
      } else if (up == null) {
        mismatches.add(what + ": the upstream recorded no digest" + upstreamNote(token) + "; client side "
          + c.digest());
        ports.add(c.clientPort());
      } else if (!up.equals(c.digest())) {
        mismatches.add(what + ": hash mismatch, client " + c.digest() + ", upstream " + up + upstreamNote(token));
        ports.add(c.clientPort());
      } else {
        matched++;
      }
    }
    return new Verdict(checked, matched, excluded, mismatches, ports);
  }

  private String upstreamNote(long token) {
    String err = upstreamErrors.get(token);
    return err == null ? "" : " (upstream: " + err + ")";
  }
}
