// Host test: one model instance called from many JVM threads, and from many coroutines through runSuspending.
package com.test.multi

import com.test.multi.pockettorch.Tensor
import java.io.File
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.math.sin
import kotlin.system.exitProcess
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking

/** args: model.ptm, numThreads, callers, calls. Prints "wrong=N failed=N ok=N"; exits 3 on a deadlock. */
public fun main(args: Array<String>) {
    val modelPath = args[0]
    val (numThreads, callers, calls) = args.drop(1).map { it.toInt() }
    // A deadlocked native call cannot be interrupted: a watchdog ends the JVM so the test fails instead of hanging.
    val watchdog = Thread {
        try {
            Thread.sleep(90_000)
            println("deadlock")
            Runtime.getRuntime().halt(3)
        } catch (e: InterruptedException) {
        }
    }
    watchdog.isDaemon = true
    watchdog.start()
    val total = callers * calls
    fun input(i: Int, salt: Double) = Tensor.Float32(FloatArray(4) { j -> sin(0.37 * i + 0.11 * j + salt).toFloat() }, listOf(1, 4))
    val inputs = List(total) { i -> input(i, 0.0) to input(i, 1.0) }
    TwoInputs(File(modelPath), numThreads).use { model ->
        // Each call's own outputs, from sequential calls (the runtime is deterministic: equality is exact).
        val expected = inputs.map { (a, b) -> model.run(a = a, b = b).let { listOf(it.output0.data, it.output1.data) } }
        val wrong = AtomicInteger()
        val failed = AtomicInteger()
        val ok = AtomicInteger()
        fun check(i: Int, out: TwoInputs.Output) {
            val same = out.output0.data.contentEquals(expected[i][0]) && out.output1.data.contentEquals(expected[i][1])
            (if (same) ok else wrong).incrementAndGet()
        }
        val pool = Executors.newFixedThreadPool(callers)
        for (t in 0 until callers) {
            pool.execute {
                for (k in 0 until calls) {
                    val i = t * calls + k
                    try {
                        check(i, model.run(a = inputs[i].first, b = inputs[i].second))
                    } catch (e: Exception) {
                        failed.incrementAndGet()
                    }
                }
            }
        }
        pool.shutdown()
        if (!pool.awaitTermination(90, TimeUnit.SECONDS)) {
            println("deadlock")
            exitProcess(3)
        }
        runBlocking(Dispatchers.Default) {
            (0 until total).map { i ->
                async { check(i, model.runSuspending(inputs[i].first, inputs[i].second)) }
            }.awaitAll()
        }
        println("wrong=${wrong.get()} failed=${failed.get()} ok=${ok.get()}")
    }
    exitProcess(0)
}
