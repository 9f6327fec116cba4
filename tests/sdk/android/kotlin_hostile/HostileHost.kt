// Prints every name the generated Hostile class holds as Unicode code points, one per line, for
// test_android_hostile_names.py to compare with the names written into the model file.
package com.hostile_sdk.v2.host

import com.hostile_sdk.v2.Hostile
import com.hostile_sdk.v2.LABELS

private fun codePoints(text: String): String = text.codePoints().toArray().joinToString(",")

public fun main() {
    println(codePoints(Hostile.MODEL_NAME))
    Hostile.INPUTS.forEach { println(codePoints(it.name)) }
    Hostile.OUTPUTS.forEach { println(codePoints(it.name)) }
    Hostile.LABELS.forEach { println(codePoints(it)) }
}
