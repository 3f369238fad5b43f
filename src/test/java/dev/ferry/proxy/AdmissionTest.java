package dev.ferry.proxy;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Admission}: what one connection took of the process's and its route's limits, given back exactly once by
 * its release, whichever part was taken when (at the accept, or after a PROXY header or a ClientHello) and whichever
 * part refused it. Each test checks the places through other connections' admissions on the same limits: a place
 * given back twice, or not at all, shows as another client admitted or refused.
 */
class AdmissionTest {

  private static final String A = "10.0.0.1";
  private static final String B = "10.0.0.2";

  private final ConnectionLimits process = new ConnectionLimits(1, 0);
  private final ConnectionLimits route = new ConnectionLimits(1, 1);

  private Admission admission() {
    return new Admission(process, () -> "over limits.max-connections (1)");
  }

  /** Admitted as the listener admits a client of a plain route: all three parts at the accept. */
  private Admission accepted(String source) {
    Admission a = admission();
    assertThat(a.admitProcess()).isNull();
    assertThat(a.admitRoute(route, "routes[0].")).isNull();
    assertThat(a.admitSource(source, "routes[0].")).isNull();
    return a;
  }

  @Test
  void aConnectionAdmittedAtTheAcceptHoldsItsThreePlacesUntilItsRelease() {
    Admission first = accepted(A);
    assertThat(first.routeAdmitted()).isTrue();
    assertThat(process.admitTotal()).as("the process's place is taken").isFalse();
    assertThat(route.admitTotal()).as("the route's place is taken").isFalse();
    assertThat(route.admitSource(A)).as("the source's place is taken").isFalse();

    first.release();
    accepted(A);
  }

  @Test
  void aSecondReleaseGivesBackNothing() {
    Admission first = accepted(A);
    first.release();
    Admission second = accepted(A);
    first.release();
    assertThat(process.admitTotal()).as("the second connection keeps the process's place").isFalse();
    assertThat(route.admitTotal()).as("and the route's").isFalse();
    assertThat(route.admitSource(A)).as("and its source's").isFalse();
    second.release();
    accepted(A);
  }

  @Test
  void aRefusalByTheProcessTakesNothingAndItsReleaseGivesBackNothing() {
    Admission holder = accepted(A);
    Admission refused = admission();
    assertThat(refused.admitProcess()).isEqualTo("over limits.max-connections (1)");
    assertThat(refused.routeAdmitted()).isFalse();
    refused.release();
    assertThat(process.admitTotal()).as("the holder's place stays taken").isFalse();
    assertThat(route.admitTotal()).isFalse();
    assertThat(route.admitSource(A)).isFalse();
    holder.release();
    accepted(A);
  }

  @Test
  void aRefusalByTheRouteNamesItsKeyAndGivesBackTheProcessPlace() {
    Admission holder = accepted(A);
    ConnectionLimits roomy = new ConnectionLimits(0, 0);
    Admission refused = new Admission(roomy, () -> "unused");
    assertThat(refused.admitProcess()).isNull();
    assertThat(refused.admitRoute(route, "routes[2].")).isEqualTo("over routes[2].limits.max-connections (1)");
    refused.release();
    assertThat(route.admitTotal()).as("the holder's route place stays taken").isFalse();
    holder.release();
    assertThat(route.admitTotal()).isTrue();
    route.releaseTotal();
  }

  @Test
  void aRefusalBySourceNamesTheSourceAndGivesBackTheTotalsButNotTheOtherOnesSource() {
    ConnectionLimits wide = new ConnectionLimits(2, 1);
    Admission holder = new Admission(new ConnectionLimits(0, 0), () -> "unused");
    holder.admitProcess();
    holder.admitRoute(wide, "");
    assertThat(holder.admitSource(A, "")).isNull();

    Admission refused = admission();
    assertThat(refused.admitProcess()).isNull();
    assertThat(refused.admitRoute(wide, "")).isNull();
    assertThat(refused.admitSource(A, "")).isEqualTo("over limits.max-connections-per-source (1) for 10.0.0.1");
    assertThat(refused.routeAdmitted()).isFalse();
    refused.release();

    assertThat(process.admitTotal()).as("the process's place is given back").isTrue();
    assertThat(wide.admitTotal()).as("the route's total place is given back").isTrue();
    assertThat(wide.admitTotal()).as("the holder's total place is not").isFalse();
    assertThat(wide.admitSource(A)).as("the holder's source place is not").isFalse();
  }

  @Test
  void behindAProxyHeaderTheSourceIsTakenAfterTheHeaderAndGivenBackOnce() {
    Admission a = admission();
    assertThat(a.admitProcess()).isNull();
    assertThat(a.admitRoute(route, "")).isNull();
    assertThat(a.routeAdmitted()).as("its source is not known yet").isFalse();
    assertThat(route.admitSource(B)).as("the socket's peer took no place").isTrue();
    route.releaseSource(B);

    assertThat(a.admitRemaining(route, A, "")).isNull();
    assertThat(a.routeAdmitted()).isTrue();
    assertThat(route.admitSource(A)).as("the header's client has its place").isFalse();
    assertThat(route.admitTotal()).as("its total place is still taken").isFalse();
    assertThat(a.admitRemaining(route, A, "")).as("nothing left to take").isNull();

    a.release();
    assertThat(route.admitTotal()).isTrue();
    assertThat(route.admitTotal()).as("exactly one total place was held").isFalse();
    assertThat(route.admitSource(A)).isTrue();
    assertThat(route.admitSource(A)).as("exactly one source place was held").isFalse();
  }

  @Test
  void onASharedAddressTheRouteIsTakenOnceTheClientHelloChoseIt() {
    Admission a = admission();
    assertThat(a.admitProcess()).isNull();
    assertThat(route.admitTotal()).as("the accept took no route place").isTrue();
    route.releaseTotal();

    assertThat(a.admitRemaining(route, A, "routes[1].")).isNull();
    assertThat(a.routeAdmitted()).isTrue();
    assertThat(route.admitTotal()).isFalse();
    assertThat(route.admitSource(A)).isFalse();

    a.release();
    accepted(A);
  }

  @Test
  void onASharedAddressAFullRouteRefusesBeforeTheSourceIsCounted() {
    assertThat(route.admitTotal()).as("another connection fills the route").isTrue();
    Admission a = admission();
    assertThat(a.admitProcess()).isNull();
    assertThat(a.admitRemaining(route, A, "routes[1].")).isEqualTo("over routes[1].limits.max-connections (1)");
    assertThat(a.routeAdmitted()).isFalse();
    assertThat(route.admitSource(A)).as("the source was not counted").isTrue();
    route.releaseSource(A);

    a.release();
    assertThat(route.admitTotal()).as("the route place it never had is not given back").isFalse();
    assertThat(process.admitTotal()).as("the process place is").isTrue();
  }
}
