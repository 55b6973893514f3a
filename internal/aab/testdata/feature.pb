
ÿ
9
android*http://schemas.android.com/apk/res/android
7
dist+http://schemas.android.com/apk/distributionmanifest"packagecom.example.bundle"splitfeature"L
*http://schemas.android.com/apk/res/androidversionCode42"(›„„2:0*"R
*http://schemas.android.com/apk/res/androidcompileSdkVersion29"(òŠ„2:0"(platformBuildVersionCode29"2:0"T
*http://schemas.android.com/apk/res/androidcompileSdkVersionCodename10.0.0(óŠ„""platformBuildVersionName10.0.0*‡
~+http://schemas.android.com/apk/distributionmodule"G
+http://schemas.android.com/apk/distributiononDemandtrue"2:@Ä