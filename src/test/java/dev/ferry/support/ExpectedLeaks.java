package dev.ferry.support;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** For the one test class that leaks on purpose: how many Netty leak reports {@link LeakCheckExtension} expects. */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface ExpectedLeaks {
  int value();
}
