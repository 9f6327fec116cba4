// Helpers of the host-JVM tests: raw little-endian tensors in and out of files the Python side compares.
package com.test.support

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

internal fun readBytes(path: String): ByteBuffer = ByteBuffer.wrap(File(path).readBytes()).order(ByteOrder.LITTLE_ENDIAN)

internal fun readFloats(path: String): FloatArray {
    val b = readBytes(path).asFloatBuffer()
    return FloatArray(b.remaining()).also { b.get(it) }
}

internal fun readLongs(path: String): LongArray {
    val b = readBytes(path).asLongBuffer()
    return LongArray(b.remaining()).also { b.get(it) }
}

internal fun writeFloats(path: String, data: FloatArray) {
    val b = ByteBuffer.allocate(data.size * 4).order(ByteOrder.LITTLE_ENDIAN)
    b.asFloatBuffer().put(data)
    File(path).writeBytes(b.array())
}
