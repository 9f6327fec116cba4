package android.app;

import android.content.ContentResolver;
import android.content.Context;
import android.content.Intent;
import android.content.res.AssetManager;
import android.os.Bundle;
import android.view.View;

public class Activity extends Context {
    public static final int RESULT_OK = -1;

    protected void onCreate(Bundle savedInstanceState) { throw new RuntimeException("Stub!"); }

    protected void onDestroy() { throw new RuntimeException("Stub!"); }

    protected void onActivityResult(int requestCode, int resultCode, Intent data) { throw new RuntimeException("Stub!"); }

    public void setContentView(View view) { throw new RuntimeException("Stub!"); }

    public void startActivityForResult(Intent intent, int requestCode) { throw new RuntimeException("Stub!"); }

    public Intent getIntent() { throw new RuntimeException("Stub!"); }

    public final void runOnUiThread(Runnable action) { throw new RuntimeException("Stub!"); }

    public void finish() { throw new RuntimeException("Stub!"); }

    @Override
    public AssetManager getAssets() { throw new RuntimeException("Stub!"); }

    @Override
    public ContentResolver getContentResolver() { throw new RuntimeException("Stub!"); }
}
