package dev.ferry.arch;

import dev.ferry.config.UpstreamAddress;
import dev.ferry.metrics.MetricNames;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.upstream.CheckResult;
import dev.ferry.vocabulary.AcceptErrorCause;
import dev.ferry.vocabulary.AdminCloseCause;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Outcome;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.TlsErrorCause;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rule 6 of the architecture rules, which ArchUnit cannot express (a label is a runtime string): every label value of
 * every {@code ferry_*} meter of a running Ferry is an enum's label or a configured name, never a client address or a
 * connection id. A label per client or per connection is a new time series per client: unbounded cardinality for
 * Prometheus, and client addresses in a monitoring system.
 */
class MeterLabelsTest {

  private static final String ROUTE = "db";

  private static final byte[] HELLO = "hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  @Test
  void everyFerryMeterLabelIsAnEnumLabelOrAConfiguredNameNeverAClient() throws Exception {
    UpstreamAddress refusing = Backend.refusingAddress();
    List<String> clients = new ArrayList<>();
    try (Backend echo = new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(HELLO.length))));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options()
           .route(ROUTE, echo.address(), refusing)
           .routeSet(ROUTE, "health.active.enabled", true).routeSet(ROUTE, "health.active.interval", "100ms"))) {
      int port = ferry.ferry().proxyPort(ROUTE);
      Peer inOrder = exchange(port, clients);
      inOrder.close();
      ferry.assertClosedFor(inOrder, CloseReason.PEER_CLOSED, Side.CLIENT);

      Peer reset = exchange(port, clients);
      reset.reset();
      ferry.assertClosedFor(reset, CloseReason.PEER_RESET, Side.CLIENT);
      MeterRegistry registry = ferry.metrics().registry();
      dev.ferry.support.Await.until("the refusing upstream failed a check", () ->
        registry.find(MetricNames.HEALTH_CHECKS).tag(MetricNames.TAG_UPSTREAM, refusing.toString()).counters().stream()
          .mapToDouble(io.micrometer.core.instrument.Counter::count).sum() > 0);
      ferry.assertReleasedCleanly();

      Map<String, Set<String>> allowed = Map.of(
        MetricNames.TAG_REASON, labels(CloseReason.values(), CloseReason::label),
        MetricNames.TAG_SIDE, labels(Side.values(), Side::label),
        MetricNames.TAG_KIND, labels(LeakKind.values(), LeakKind::label),
        MetricNames.TAG_DIRECTION, labels(Direction.values(), Direction::label),
        MetricNames.TAG_RESULT, labels(CheckResult.values(), CheckResult::label),
        MetricNames.TAG_OUTCOME, labels(Outcome.values(), Outcome::label),
        MetricNames.TAG_CAUSE, union(union(labels(AdminCloseCause.values(), AdminCloseCause::label),
          labels(AcceptErrorCause.values(), AcceptErrorCause::label)),
          union(labels(ProtocolErrorCause.values(), ProtocolErrorCause::label),
            labels(TlsErrorCause.values(), TlsErrorCause::label))),
        MetricNames.TAG_ROUTE, Set.of(ROUTE),
        MetricNames.TAG_UPSTREAM, Set.of(echo.address().toString(), refusing.toString()));
      assertLabels(registry, allowed, clients);
    }
  }

  /** Every tag of every ferry meter: a known key, a value from that key's allowed set; and every key seen. */
  private static void assertLabels(MeterRegistry registry, Map<String, Set<String>> allowed, List<String> clients) {
    List<Meter> meters = registry.getMeters().stream().filter(m -> m.getId().getName().startsWith("ferry.")).toList();
    Set<String> keysSeen = new TreeSet<>();
    List<String> bad = new ArrayList<>();
    for (Meter m : meters) {
      for (Tag tag : m.getId().getTags()) {
        keysSeen.add(tag.getKey());
        String where = m.getId().getName() + "{" + tag.getKey() + "=\"" + tag.getValue() + "\"}";
        if (clients.contains(tag.getValue())) {
          bad.add(where + ": a client's address");
        } else if (tag.getValue().matches("\\d+")) {
          bad.add(where + ": a number, like a connection id");
        } else if (!allowed.containsKey(tag.getKey())) {
          bad.add(where + ": a label key that is none of MetricNames.TAG_*");
        } else if (!allowed.get(tag.getKey()).contains(tag.getValue())) {
          bad.add(where + ": not one of " + new TreeSet<>(allowed.get(tag.getKey())));
        }
      }
    }
    assertThat(bad).as("ferry_* label values that are neither an enum's label nor a configured name").isEmpty();
    assertThat(keysSeen).as("label keys of the %d ferry_* meters (the scenario must reach every kind)", meters.size())
      .containsExactlyInAnyOrderElementsOf(allowed.keySet());
  }

  /** A client of port {@code port} that sends 5 bytes and reads them back through an upstream that echoes them. */
  private static Peer exchange(int port, List<String> clients) throws Exception {
    Peer p = Peer.connect(port);
    clients.add("127.0.0.1:" + p.localPort());
    p.write(HELLO);
    assertThat(p.readExactly(HELLO.length)).isEqualTo(HELLO);
    return p;
  }

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> all = new TreeSet<>(a);
    all.addAll(b);
    return all;
  }

  private static <E> Set<String> labels(E[] values, Function<E, String> label) {
    return Arrays.stream(values).map(label).collect(Collectors.toSet());
  }
}
