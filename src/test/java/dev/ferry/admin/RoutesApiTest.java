package dev.ferry.admin;

import dev.ferry.config.PoolOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.config.WeightedUpstream;
import dev.ferry.proxy.Route;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** GET /routes and the operator's drain and ready of one upstream, as HAProxy's {@code set server state}. */
class RoutesApiTest {

  static Backend a;
  static Backend b;
  static FerryHarness ferry;

  @BeforeAll
  static void start() throws Exception {
    a = new Backend(Backend.HOLD);
    b = new Backend(Backend.HOLD);
    ferry = FerryHarness.start(FerryHarness.options()
      .route("db", a.address(), b.address()).routeSet("db", "balance", "least-connections")
      .route("cache"));
  }

  @AfterAll
  static void stop() throws Exception {
    ferry.close();
    a.close();
    b.close();
  }

  /** Every test leaves both upstreams ready and the pool as configured. */
  @AfterEach
  void readyAgain() {
    Route db = ferry.ferry().routes().get(0);
    db.reload(db.options().pool());
    db.pool().ready(a.address().toString());
    db.pool().ready(b.address().toString());
  }

  @Test
  void listsEveryRouteWithItsListenAddressBoundPortBalanceAndUpstreams() throws Exception {
    HttpResponse<String> res = ferry.admin("GET", "/routes");
    assertThat(res.statusCode()).isEqualTo(200);
    assertThat(res.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonArray routes = new JsonObject(res.body()).getJsonArray("routes");
    assertThat(routes).hasSize(2);

    JsonObject db = routes.getJsonObject(0);
    assertThat(db.getString("route")).isEqualTo("db");
    assertThat(db.getJsonObject("listen")).isEqualTo(new JsonObject().put("host", "127.0.0.1").put("port", 0)
      .put("bound_port", ferry.ferry().proxyPort("db")));
    assertThat(db.getBoolean("echo")).isFalse();
    assertThat(db.getString("balance")).isEqualTo("least-connections");
    assertThat(db.getBoolean("panic")).isFalse();
    assertThat(db.getJsonObject("limits").getInteger("max_connections")).isZero();
    JsonArray ups = db.getJsonArray("upstreams");
    assertThat(ups).hasSize(2);
    for (int i = 0; i < 2; i++) {
      JsonObject u = ups.getJsonObject(i);
      assertThat(u.getString("upstream")).isEqualTo((i == 0 ? a : b).address().toString());
      assertThat(u.getString("state")).isEqualTo("up");
      assertThat(u.getInteger("weight")).isEqualTo(1);
      assertThat(u.getInteger("active_connections")).isZero();
      assertThat(u.getInteger("consecutive_failures")).isZero();
    }

    JsonObject cache = routes.getJsonObject(1);
    assertThat(cache.getString("route")).isEqualTo("cache");
    assertThat(cache.getBoolean("echo")).as("no upstreams: the embedded echo").isTrue();
    assertThat(cache.getJsonArray("upstreams").getJsonObject(0).getString("upstream"))
      .isEqualTo("127.0.0.1:" + ferry.ferry().echoPort());

    HttpResponse<String> one = ferry.admin("GET", "/routes/db");
    assertThat(one.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(one.body())).isEqualTo(db);
  }

  @Test
  void aDrainedUpstreamGetsNoNewClientsWhileItsOpenOnesContinueAndReadyTakesItBack() throws Exception {
    String drained = a.address().toString();
    int aBefore = a.accepted().size();
    int bBefore = b.accepted().size();
    // Least connections with both idle: the first client goes to one of them; make it A by draining B briefly.
    ferry.admin("POST", "/routes/db/upstreams/" + b.address() + "/drain");
    Peer old = ferry.connect("db");
    old.write("old");
    Peer oldUpstream = a.awaitAccepted(aBefore + 1);
    assertThat(oldUpstream.readExactlyText(3)).isEqualTo("old");
    ferry.admin("POST", "/routes/db/upstreams/" + b.address() + "/ready");

    HttpResponse<String> drain = ferry.admin("POST", "/routes/db/upstreams/" + drained + "/drain");
    assertThat(drain.statusCode()).isEqualTo(202);
    JsonObject body = new JsonObject(drain.body());
    assertThat(body.getString("route")).isEqualTo("db");
    assertThat(body.getBoolean("changed")).isTrue();
    assertThat(body.getJsonObject("upstream").getString("upstream")).isEqualTo(drained);
    assertThat(body.getJsonObject("upstream").getString("state")).isEqualTo("draining");
    assertThat(body.getJsonObject("upstream").getInteger("active_connections")).isEqualTo(1);
    HttpResponse<String> again = ferry.admin("POST", "/routes/db/upstreams/" + drained + "/drain");
    assertThat(again.statusCode()).isEqualTo(202);
    assertThat(new JsonObject(again.body()).getBoolean("changed")).as("a second drain changes nothing").isFalse();

    List<Peer> fresh = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Peer c = ferry.connect("db");
      c.write("n");
      fresh.add(c);
    }
    b.awaitAccepted(bBefore + 4);
    assertThat(a.accepted()).as("connections the drained upstream accepted").hasSize(aBefore + 1);
    // The connection opened before the drain still relays both ways.
    old.write("still");
    assertThat(oldUpstream.readExactlyText(5)).isEqualTo("still");
    oldUpstream.write("back");
    assertThat(old.readExactlyText(4)).isEqualTo("back");

    HttpResponse<String> ready = ferry.admin("POST", "/routes/db/upstreams/" + drained + "/ready");
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(ready.body()).getJsonObject("upstream").getString("state")).isEqualTo("up");
    assertThat(new JsonObject(ready.body()).getBoolean("changed")).isTrue();
    // Least connections: A has 1 open, B 4; the next client goes to A again.
    Peer next = ferry.connect("db");
    next.write("n");
    a.awaitAccepted(aBefore + 2);

    old.close();
    next.close();
    for (Peer c : fresh) {
      c.close();
    }
    for (Peer p : List.of(oldUpstream, a.accepted().get(aBefore + 1))) {
      p.awaitClosedByPeer();
      p.close();
    }
    for (int i = bBefore; i < bBefore + 4; i++) {
      b.accepted().get(i).awaitClosedByPeer();
      b.accepted().get(i).close();
    }
    ferry.assertClosedFor(old, CloseReason.PEER_CLOSED, Side.CLIENT);
    ferry.assertReleasedCleanly();
  }

  @Test
  void aDrainSurvivesAReloadForAnUpstreamThatStays() throws Exception {
    String stays = a.address().toString();
    UpstreamAddress added = new UpstreamAddress("127.0.0.1", 1);
    assertThat(ferry.admin("POST", "/routes/db/upstreams/" + stays + "/drain").statusCode()).isEqualTo(202);

    Route db = ferry.ferry().routes().get(0);
    db.reload(db.options().pool().withUpstreams(List.of(WeightedUpstream.of(a.address()), WeightedUpstream.of(added))));

    JsonArray ups = new JsonObject(ferry.admin("GET", "/routes/db").body()).getJsonArray("upstreams");
    assertThat(ups).hasSize(2);
    assertThat(ups.getJsonObject(0).getString("upstream")).isEqualTo(stays);
    assertThat(ups.getJsonObject(0).getString("state")).as("the drained upstream after the reload").isEqualTo("draining");
    assertThat(ups.getJsonObject(1).getString("upstream")).isEqualTo(added.toString());
    assertThat(ups.getJsonObject(1).getString("state")).as("a new upstream starts ready").isEqualTo("up");
    assertThat(ferry.admin("POST", "/routes/db/upstreams/" + b.address() + "/drain").statusCode())
      .as("an upstream the reload removed").isEqualTo(404);
  }

  @Test
  void answersAMalformedPercentEscapeWith400() throws Exception {
    RawHttp.Response res = RawHttp.exchange(ferry.ferry().adminPort(), RawHttp.request("POST",
      "/routes/db/upstreams/%ZZ:1/drain", "Authorization: Bearer " + FerryHarness.ADMIN_TOKEN, "Content-Length: 0"));
    assertThat(res.status()).isEqualTo(400);
    assertThat(new JsonObject(res.body()).getString("error")).startsWith("upstream must be host:port as configured");
  }

  @ParameterizedTest(name = "{0} {1} -> {2}")
  @CsvSource({
    "GET, /routes/nope, 404, no route nope",
    "GET, /routes/Bad_Name, 400, route name must be 1 to 63 of [a-z0-9-]",
    "GET, /routes/, 400, route name must be 1 to 63 of [a-z0-9-]",
    "POST, /routes/nope/upstreams/10.0.0.1:5432/drain, 404, no route nope",
    "POST, /routes/db/upstreams/10.9.9.9:1/drain, 404, route db has no upstream 10.9.9.9:1",
    "POST, /routes/db/upstreams/%5B::1%5D:7001/ready, 404, route db has no upstream [::1]:7001",
    "POST, /routes/db/upstreams/no-port/drain, 400, upstream must be host:port as configured: missing port",
    "POST, /routes/db/upstreams/10.0.0.1:99999/drain, 400, upstream must be host:port as configured: port must be",
    "POST, /routes/db/upstreams/10.0.0.1:5432/kill, 404, no such resource",
    "GET, /routes/db/upstreams, 404, no such resource",
    "GET, /routes/db/upstreams/10.0.0.1:5432/drain, 405, method GET not allowed; use POST",
    "POST, /routes, 405, method POST not allowed; use GET",
    "DELETE, /routes/db, 405, method DELETE not allowed; use GET",
  })
  void answersBadRouteRequestsWithAJsonErrorAndChangesNothing(String method, String path, int status, String message)
      throws Exception {
    String before = ferry.admin("GET", "/routes").body();
    HttpResponse<String> res = ferry.admin(method, path);
    assertThat(res.statusCode()).isEqualTo(status);
    assertThat(res.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(new JsonObject(res.body()).getString("error")).contains(message);
    assertThat(res.body()).doesNotContain("Exception").doesNotContain("\tat ");
    assertThat(ferry.admin("GET", "/routes").body()).isEqualTo(before);
  }
}
