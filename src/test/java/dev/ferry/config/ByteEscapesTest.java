package dev.ferry.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class ByteEscapesTest {

  @Test
  void decodesTheCEscapesAndHexBytes() {
    assertThat(ByteEscapes.decode("PING\\r\\n")).isEqualTo("PING\r\n".getBytes(StandardCharsets.US_ASCII));
    assertThat(ByteEscapes.decode("\\t\\0\\\\\\xff\\x0A")).containsExactly('\t', 0, '\\', 0xff, '\n');
    assertThat(ByteEscapes.decode("é")).isEqualTo("é".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void refusesALoneBackslashAndUnknownEscapes() {
    assertThatThrownBy(() -> ByteEscapes.decode("abc\\")).hasMessageContaining("lone");
    assertThatThrownBy(() -> ByteEscapes.decode("\\d")).hasMessageContaining("unknown escape \"\\d\" at index 0");
    assertThatThrownBy(() -> ByteEscapes.decode("\\xg0")).hasMessageContaining("two hex digits");
  }

  @Test
  void encodeCutsLongInputAndMarksTheCut() {
    assertThat(ByteEscapes.encode("+PONG\r\n".getBytes(StandardCharsets.US_ASCII), 0, 7, 5)).isEqualTo("+PONG...");
  }

  @Property(tries = 300)
  void anyBytesEncodeToTextThatDecodesBackToThem(@ForAll byte[] bytes) {
    String text = ByteEscapes.encode(bytes);
    assertThat(text.chars()).allMatch(c -> c >= 0x20 && c < 0x7f);
    assertThat(ByteEscapes.decode(text)).isEqualTo(bytes);
  }
}
