package dev.ferry.proxy;

import dev.ferry.config.UpstreamAddress;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Haproxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue #10's second measurement, as a test: three upstreams, one refusing from the start and one stopped a third
 * of the way in; 600 clients through a real HAProxy 2.6 ({@code check inter 500 fall 2}, {@code option redispatch},
 * {@code retries 2}) and 600 through Ferry (its defaults), interleaved in one run. Ferry must fail no more clients
 * than HAProxy.
 */
class FailoverAgainstHaproxyTest {

  private static final Logger log = LoggerFactory.getLogger(FailoverAgainstHaproxyTest.class);

  @TempDir
  Path dir;

  @Test
  void failsNoMoreClientsThanHaproxyWithChecksAndRedispatchWhenUpstreamsDie() throws Exception {
    UpstreamAddress refusing = Backend.refusingAddress();
    Backend stopped = UpstreamFailoverTest.echo();
    try (Backend alive = UpstreamFailoverTest.echo();
         Haproxy haproxy = Haproxy.start(dir, port -> String.join("\n",
           "listen proxy",
           "  bind 127.0.0.1:" + port,
           "  balance roundrobin",
           "  retries 2",
           "  option redispatch",
           "  server dead 127.0.0.1:" + refusing.port() + " check inter 500 fall 2",
           "  server stopped 127.0.0.1:" + stopped.address().port() + " check inter 500 fall 2",
           "  server alive 127.0.0.1:" + alive.address().port() + " check inter 500 fall 2",
           ""));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(refusing, stopped.address(), alive.address()))) {
      int haproxyFailed = 0;
      int ferryFailed = 0;
      for (int i = 0; i < 600; i++) {
        if (i == 200) {
          stopped.close();
        }
        haproxyFailed += UpstreamFailoverTest.exchange(haproxy.port()) ? 0 : 1;
        ferryFailed += UpstreamFailoverTest.exchange(ferry.port()) ? 0 : 1;
      }
      log.info("conn=- 600 clients each: HAProxy failed {}, Ferry failed {}", haproxyFailed, ferryFailed);
      assertThat(ferryFailed).as("clients failed through Ferry (HAProxy: %d)", haproxyFailed)
        .isLessThanOrEqualTo(haproxyFailed);
      ferry.assertReleasedCleanly();
    } finally {
      stopped.close();
    }
  }
}
