// Prints the generated ErrorCode entries (code, name, message, hint as JSON lines) for the catalogue check.
package com.test.catalogue

import com.test.classifier.pockettorch.ErrorCode

private fun json(s: String): String = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\""

public fun main() {
    for (e in ErrorCode.entries) {
        println("{\"code\": ${e.code}, \"name\": ${json(e.name)}, \"message\": ${json(e.message)}, \"hint\": ${json(e.hint)}}")
    }
}
