@echo off
rem Continuo for Windows: the plugins into the shared plugin folders, ONNX Runtime and the
rem models into %APPDATA%\Continuo. Run as administrator (the plugin folders are shared).
setlocal
set "HERE=%~dp0"
set "CLAP=%COMMONPROGRAMFILES%\CLAP"
set "VST3=%COMMONPROGRAMFILES%\VST3"
set "DATA=%APPDATA%\Continuo"
if not exist "%CLAP%" mkdir "%CLAP%" || goto :failed
copy /Y "%HERE%Continuo.clap" "%CLAP%\" >nul || goto :failed
echo installed %CLAP%\Continuo.clap
xcopy /E /I /Y /Q "%HERE%Continuo.vst3" "%VST3%\Continuo.vst3" >nul || goto :failed
echo installed %VST3%\Continuo.vst3
if not exist "%DATA%\lib" mkdir "%DATA%\lib" || goto :failed
copy /Y "%HERE%onnxruntime.dll" "%DATA%\lib\" >nul || goto :failed
echo installed %DATA%\lib\onnxruntime.dll
xcopy /E /I /Y /Q "%HERE%models" "%DATA%\models" >nul || goto :failed
echo installed %DATA%\models
echo Continuo is installed: rescan plugins in your DAW.
pause
exit /b 0
:failed
echo Installing failed: run install.bat as administrator (right-click, "Run as administrator").
pause
exit /b 1
