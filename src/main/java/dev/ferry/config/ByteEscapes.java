package dev.ferry.config;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Bytes written as text, for health-check {@code send} and {@code expect}: the escapes of HAProxy's
 * {@code tcp-check send}/{@code expect string} and of C, nothing else.
 * <pre>
 *   \r  \n  \t  \0  \\  \xHH (exactly two hex digits, any byte)
 * </pre>
 * Every other character stands for its UTF-8 bytes. Any other backslash sequence is an error, so a typo such as
 * {@code \d} is reported instead of sent. In YAML, write such values in single quotes ({@code 'PING\r\n'}) so that
 * YAML hands the backslashes to Ferry; in double quotes YAML decodes {@code \r\n} itself, which gives the same
 * bytes, but a literal backslash then needs four.
 */
public final class ByteEscapes {

  private ByteEscapes() {
  }

  /**
   * Decodes {@code text}.
   *
   * @throws IllegalArgumentException with the reason (the bad escape and its index)
   */
  public static byte[] decode(String text) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (c != '\\') {
        int end = i + 1;
        while (end < text.length() && text.charAt(end) != '\\') {
          end++;
        }
        out.writeBytes(text.substring(i, end).getBytes(StandardCharsets.UTF_8));
        i = end;
        continue;
      }
      if (i + 1 >= text.length()) {
        throw new IllegalArgumentException("ends with a lone \"\\\" at index " + i + "; write \\\\ for a backslash");
      }
      char e = text.charAt(i + 1);
      switch (e) {
        case 'r' -> out.write('\r');
        case 'n' -> out.write('\n');
        case 't' -> out.write('\t');
        case '0' -> out.write(0);
        case '\\' -> out.write('\\');
        case 'x' -> {
          int hi = i + 2 < text.length() ? Character.digit(text.charAt(i + 2), 16) : -1;
          int lo = i + 3 < text.length() ? Character.digit(text.charAt(i + 3), 16) : -1;
          if (hi < 0 || lo < 0) {
            throw new IllegalArgumentException("\\x at index " + i + " must be followed by two hex digits");
          }
          out.write(hi << 4 | lo);
          i += 2;
        }
        default -> throw new IllegalArgumentException("unknown escape \"\\" + e + "\" at index " + i
            + "; use \\r \\n \\t \\0 \\\\ or \\xHH");
      }
      i += 2;
    }
    return out.toByteArray();
  }

  /**
   * The first {@code max} bytes as text that {@link #decode} turns back into them: printable ASCII as is, the
   * escapes above for the rest; {@code ...} marks a cut. For log lines and {@code describe()}.
   */
  public static String encode(byte[] bytes, int offset, int length, int max) {
    StringBuilder sb = new StringBuilder(Math.min(length, max) + 8);
    int n = Math.min(length, max);
    for (int i = offset; i < offset + n; i++) {
      int b = bytes[i] & 0xff;
      switch (b) {
        case '\r' -> sb.append("\\r");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        case 0 -> sb.append("\\0");
        case '\\' -> sb.append("\\\\");
        default -> {
          if (b >= 0x20 && b < 0x7f) {
            sb.append((char) b);
          } else {
            sb.append("\\x").append(Character.forDigit(b >> 4, 16)).append(Character.forDigit(b & 0xf, 16));
          }
        }
      }
    }
    if (length > max) {
      sb.append("...");
    }
    return sb.toString();
  }

  public static String encode(byte[] bytes) {
    return encode(bytes, 0, bytes.length, Integer.MAX_VALUE);
  }
}
