package dev.ferry.admin;

import dev.ferry.support.Await;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Admin mutations are secure by default: without {@code admin.token} every one is refused with 403; with it,
 * mutations and the listings that show client addresses need the bearer token, while {@code /metrics} and
 * {@code /health/*} stay open for Prometheus and the kubelet.
 */
class AdminTokenTest {

  private static final String[] OPEN = {"/metrics", "/health/live", "/health/ready"};

  @Test
  void refusesEveryMutationWith403WhenNoTokenIsConfiguredAndLeavesTheConnectionOpen() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("admin.token", null))) {
      Peer client = ferry.connect();
      client.write("k");
      client.readExactly(1);
      Await.until("the connection is registered", () -> ferry.metrics().connectionsOpen() == 1);
      HttpResponse<String> list = ferry.admin("GET", "/connections");
      assertThat(list.statusCode()).as("listing without a token configured").isEqualTo(200);
      long id = new JsonObject(list.body()).getJsonArray("connections").getJsonObject(0).getLong("id");

      for (String authorization : new String[] {null, "Bearer anything"}) {
        HttpResponse<String> kill = ferry.adminAs("DELETE", "/connections/" + id, authorization);
        assertThat(kill.statusCode()).as("DELETE with Authorization: %s", authorization).isEqualTo(403);
        assertThat(kill.headers().firstValue("Content-Type")).hasValue("application/json");
        assertThat(new JsonObject(kill.body()).getString("error"))
          .isEqualTo("admin mutations are disabled: set admin.token (FERRY_ADMIN_TOKEN) to enable them");
      }
      // Refused before the id is even read: a malformed one gets the same 403, not a 400 that probes the API.
      assertThat(ferry.adminAs("DELETE", "/connections/abc", null).statusCode()).isEqualTo(403);
      String upstream = "127.0.0.1:" + ferry.ferry().echoPort();
      for (String action : new String[] {"drain", "ready"}) {
        HttpResponse<String> res = ferry.adminAs("POST", "/routes/default/upstreams/" + upstream + "/" + action, null);
        assertThat(res.statusCode()).as("POST ... /%s", action).isEqualTo(403);
        assertThat(new JsonObject(res.body()).getString("error")).startsWith("admin mutations are disabled");
      }
      HttpResponse<String> routes = ferry.adminAs("GET", "/routes", null);
      assertThat(routes.statusCode()).as("GET /routes without a token configured").isEqualTo(200);
      assertThat(new JsonObject(routes.body()).getJsonArray("routes").getJsonObject(0).getJsonArray("upstreams")
        .getJsonObject(0).getString("state")).as("the refused drain changed nothing").isEqualTo("up");
      for (String path : OPEN) {
        assertThat(ferry.adminAs("GET", path, null).statusCode()).as("GET %s", path).isEqualTo(200);
      }

      assertThat(ferry.metrics().connectionsOpen()).as("the refused kill closed nothing").isEqualTo(1);
      client.write("still");
      assertThat(client.readExactlyText(5)).isEqualTo("still");
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void requiresTheBearerTokenForMutationsAndListingsButNotForMetricsOrHealth() throws Exception {
    // Whitespace around the configured token is ignored: a Secret made from a file ends in a newline.
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("admin.token", "s3cret\n"))) {
      Peer client = ferry.connect();
      client.write("k");
      client.readExactly(1);
      Await.until("the connection is registered", () -> ferry.metrics().connectionsOpen() == 1);

      for (String bad : new String[] {null, "Bearer wrong", "Basic czNjcmV0", "Bearer ", "Bearer s3cret2"}) {
        HttpResponse<String> list = ferry.adminAs("GET", "/connections", bad);
        assertThat(list.statusCode()).as("GET /connections, Authorization: " + bad).isEqualTo(401);
        assertThat(list.body()).doesNotContain(String.valueOf(client.localPort()));
        HttpResponse<String> kill = ferry.adminAs("DELETE", "/connections/1", bad);
        assertThat(kill.statusCode()).as("DELETE, Authorization: " + bad).isEqualTo(401);
        assertThat(kill.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        assertThat(new JsonObject(kill.body()).getString("error")).isEqualTo("a valid bearer token is required");
        assertThat(ferry.adminAs("GET", "/routes", bad).statusCode()).as("GET /routes, Authorization: " + bad)
          .isEqualTo(401);
        assertThat(ferry.adminAs("GET", "/routes/default", bad).statusCode()).isEqualTo(401);
        assertThat(ferry.adminAs("POST", "/routes/default/upstreams/127.0.0.1:1/drain", bad).statusCode())
          .as("drain, Authorization: " + bad).isEqualTo(401);
      }
      assertThat(ferry.adminAs("GET", "/routes", "Bearer s3cret").statusCode()).isEqualTo(200);
      for (String path : OPEN) {
        assertThat(ferry.adminAs("GET", path, null).statusCode()).as("GET %s without a token", path).isEqualTo(200);
      }
      assertThat(ferry.metrics().connectionsOpen()).isEqualTo(1);

      HttpResponse<String> list = ferry.adminAs("GET", "/connections", "Bearer s3cret");
      assertThat(list.statusCode()).isEqualTo(200);
      long id = new JsonObject(list.body()).getJsonArray("connections").getJsonObject(0).getLong("id");
      assertThat(ferry.adminAs("DELETE", "/connections/" + id, "Bearer s3cret").statusCode()).isEqualTo(202);
      client.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.ADMIN_KILL, Side.PROXY);
      ferry.assertReleasedCleanly();
    }
  }
}
